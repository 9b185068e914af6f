// <meta http-equiv="refresh" content="0; url=next.html">: where the URL sits in the content value, following
// HTML's "shared declarative refresh steps", so a rewrite changes the URL and keeps the delay and spacing. Pure.
import type { TextSpan } from './reference.js';

const WHITESPACE = new Set([' ', '\t', '\n', '\f', '\r']);

/** The span of the URL in a refresh content value, or null when it names none (a plain reload, or not a refresh). */
export function refreshUrlSpan(content: string): TextSpan | null {
  let position = 0;
  const skipWhitespace = (): void => {
    while (position < content.length && WHITESPACE.has(content[position])) position++;
  };
  const isDigit = (char: string | undefined): boolean => char !== undefined && char >= '0' && char <= '9';

  skipWhitespace();
  // The delay: digits, then any digits and dots (a delay may not start with anything else but a dot).
  if (!isDigit(content[position]) && content[position] !== '.') return null;
  while (isDigit(content[position]) || content[position] === '.') position++;
  if (position >= content.length) return null;
  if (!WHITESPACE.has(content[position]) && content[position] !== ';' && content[position] !== ',') return null;

  skipWhitespace();
  if (content[position] === ';' || content[position] === ',') position++;
  skipWhitespace();
  if (position >= content.length) return null;

  // An optional `url =` prefix; when it is only partly there the URL starts where the prefix did.
  const urlStart = position;
  if (content.slice(position, position + 3).toLowerCase() === 'url') {
    position += 3;
    skipWhitespace();
    if (content[position] === '=') {
      position++;
      skipWhitespace();
    } else {
      position = urlStart;
    }
  }

  const quote = content[position] === '"' || content[position] === "'" ? content[position] : null;
  if (quote !== null) position++;
  let end = content.length;
  if (quote !== null) {
    const closing = content.indexOf(quote, position);
    if (closing !== -1) end = closing;
  }
  while (end > position && WHITESPACE.has(content[end - 1])) end--; // the URL parser drops it; the text keeps it
  return end > position ? { start: position, end } : null;
}
