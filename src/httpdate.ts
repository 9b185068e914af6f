// HTTP dates (RFC 9110 §5.6.7): the three formats a server may send, and the one we send back. Pure.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( ?\\d{1,2}) ${TIME} (\\d{4})$`);

/** Milliseconds since the epoch for an HTTP date in any of the three formats; undefined for anything else. */
export function parseHttpDate(value: string, now: number = Date.now()): number | undefined {
  const text = value.trim();
  let parts: [day: string, month: string, year: number, hours: string, minutes: string, seconds: string] | undefined;
  let match: RegExpExecArray | null;
  if ((match = IMF_FIXDATE.exec(text))) parts = [match[1]!, match[2]!, Number(match[3]), match[4]!, match[5]!, match[6]!];
  else if ((match = ASCTIME.exec(text))) parts = [match[2]!, match[1]!, Number(match[6]), match[3]!, match[4]!, match[5]!];
  else if ((match = RFC_850.exec(text))) {
    // A two-digit year more than 50 years ahead means the previous century (RFC 9110 §5.6.7).
    let year = 2000 + Number(match[3]);
    if (year > new Date(now).getUTCFullYear() + 50) year -= 100;
    parts = [match[1]!, match[2]!, year, match[4]!, match[5]!, match[6]!];
  }
  if (!parts) return undefined;
  const [day, month, year, hours, minutes, seconds] = parts;
  const at = Date.UTC(year, MONTHS.indexOf(month), Number(day), Number(hours), Number(minutes), Number(seconds));
  return Number.isNaN(at) ? undefined : at;
}

/** The preferred format (IMF-fixdate), e.g. `Thu, 02 Feb 1995 02:02:02 GMT`. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
