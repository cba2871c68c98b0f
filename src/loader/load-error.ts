// The one error thrown when no native addon can be loaded: every cause found, each with the fix for it.

export interface LoadCause {
  what: string;
  fix: string;
}

export function formatLoadError(platform: string, causes: LoadCause[]): string {
  const lines = [`atman-native: no native addon could be loaded on ${platform}. What was found, and the fix for each:`];
  causes.forEach((c, i) => {
    lines.push(`  ${i + 1}. ${c.what}`);
    lines.push(`     fix: ${c.fix}`);
  });
  lines.push('Any one fix is enough. `npx atman-native doctor` shows the search in detail.');
  return lines.join('\n');
}
