// What the loaded addon was built against.
import { native, BuildInfo } from './native';

export function buildInfo(): BuildInfo {
  return native.buildInfo();
}
