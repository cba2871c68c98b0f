// Numbers in answers: finding them in text and reducing them to one canonical spelling.

/**
 * A number as people write them in answers: optional '-' and '$', digits with optional thousands commas
 * (groups of three only, so a list '1,2,3' is three numbers), optional decimals. A trailing '.' is not taken.
 */
export const NUMBER_SOURCE = String.raw`-?\$?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\$?-?\.\d+`;

/**
 * The canonical spelling of a number string, or null if it is not one: '$' and ',' dropped, a trailing '.'
 * dropped, no leading zeros, no trailing decimal zeros ('18.00' → '18', '2.50' → '2.5'), '-0' → '0'.
 */
export function normalizeNumber(text: string): string | null {
  let s = text.trim().replace(/[$,\s]/g, '');
  if (s.endsWith('.')) s = s.slice(0, -1);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (m === null || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return null;
  const intPart = m[2].replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac === '' ? intPart : `${intPart}.${frac}`;
  return m[1] === '-' && body !== '0' ? `-${body}` : body;
}
