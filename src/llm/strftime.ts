// Python's datetime.strftime for the directives chat templates use, in the C locale (English names), local time.
// Chat templates call it as strftime_now(format); HF transformers renders that with datetime.now().strftime(format).

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad = (n: number, width: number, fill = '0'): string => String(n).padStart(width, fill);

function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  // Date.UTC of both local dates: daylight-saving shifts do not change the day count.
  const utc = (x: Date): number => Date.UTC(x.getFullYear(), x.getMonth(), x.getDate());
  return (utc(d) - utc(start)) / 86400000 + 1;
}

// [padded, unpadded (glibc's %-X)] for each numeric directive.
function numeric(d: Date, c: string): [string, string] | undefined {
  const hour12 = d.getHours() % 12 === 0 ? 12 : d.getHours() % 12;
  switch (c) {
    case 'd': return [pad(d.getDate(), 2), String(d.getDate())];
    case 'e': return [pad(d.getDate(), 2, ' '), String(d.getDate())];
    case 'm': return [pad(d.getMonth() + 1, 2), String(d.getMonth() + 1)];
    case 'H': return [pad(d.getHours(), 2), String(d.getHours())];
    case 'I': return [pad(hour12, 2), String(hour12)];
    case 'M': return [pad(d.getMinutes(), 2), String(d.getMinutes())];
    case 'S': return [pad(d.getSeconds(), 2), String(d.getSeconds())];
    case 'j': return [pad(dayOfYear(d), 3), String(dayOfYear(d))];
    case 'y': return [pad(d.getFullYear() % 100, 2), String(d.getFullYear() % 100)];
    case 'Y': return [String(d.getFullYear()), String(d.getFullYear())];
    default: return undefined;
  }
}

/** Formats `date` (local time) like Python's `date.strftime(format)` in the C locale. Throws on directives it lacks. */
export function strftime(date: Date, format: string): string {
  return format.replace(/%(-?)(.?)/g, (whole, dash: string, c: string) => {
    const n = numeric(date, c);
    if (n !== undefined) return dash ? n[1] : n[0];
    if (!dash) {
      switch (c) {
        case 'a': return DAYS[date.getDay()].slice(0, 3);
        case 'A': return DAYS[date.getDay()];
        case 'b': return MONTHS[date.getMonth()].slice(0, 3);
        case 'B': return MONTHS[date.getMonth()];
        case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
        case '%': return '%';
      }
    }
    throw new Error(`strftime_now: unsupported format directive '${whole}' in '${format}' (supported: %a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %%, and %-d style unpadded numbers)`);
  });
}
