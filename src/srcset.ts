// The srcset attribute: HTML's "parse a srcset attribute" algorithm, keeping where each URL sits in the
// value so that rewriting replaces the URLs and nothing else (descriptors, commas and spacing stay). Pure.
import type { TextSpan } from './reference.js';

/** One image candidate: its URL as written and where it sits in the attribute value. */
export interface SrcsetCandidate extends TextSpan {
  url: string;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\f', '\r']);
const NON_NEGATIVE_INTEGER = /^\d+$/;
const FLOATING_POINT = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The candidates of a srcset value in order, or null when a candidate is invalid (HTML would drop it; we leave
 * the whole value untouched rather than guess). An empty or all-whitespace value has no candidates.
 */
export function parseSrcset(value: string): SrcsetCandidate[] | null {
  const candidates: SrcsetCandidate[] = [];
  let position = 0;
  while (true) {
    // Splitting loop: skip whitespace and commas before a candidate.
    while (position < value.length && (WHITESPACE.has(value[position]) || value[position] === ',')) position++;
    if (position >= value.length) return candidates;

    const start = position;
    while (position < value.length && !WHITESPACE.has(value[position])) position++;
    let end = position;
    let descriptors: string[] = [];
    if (value[end - 1] === ',') {
      // A URL ending in commas has no descriptors; the commas separate it from the next candidate.
      while (end > start && value[end - 1] === ',') end--;
    } else {
      const tokenized = tokenizeDescriptors(value, position);
      descriptors = tokenized.descriptors;
      position = tokenized.position;
    }
    if (end === start || !descriptorsAreValid(descriptors)) return null;
    candidates.push({ url: value.slice(start, end), start, end });
  }
}

/** The descriptor tokenizer: whitespace-separated tokens up to the next comma outside parentheses. */
function tokenizeDescriptors(value: string, from: number): { descriptors: string[]; position: number } {
  const descriptors: string[] = [];
  let position = from;
  let current = '';
  let inParens = false;
  while (position < value.length) {
    const char = value[position++];
    if (inParens) {
      current += char;
      if (char === ')') inParens = false;
    } else if (WHITESPACE.has(char)) {
      if (current !== '') descriptors.push(current);
      current = '';
    } else if (char === ',') {
      break;
    } else {
      current += char;
      if (char === '(') inParens = true;
    }
  }
  if (current !== '') descriptors.push(current);
  return { descriptors, position };
}

/** At most one of width or density, an optional height only beside a width (HTML's descriptor parser). */
function descriptorsAreValid(descriptors: readonly string[]): boolean {
  let width = false;
  let density = false;
  let height = false;
  for (const descriptor of descriptors) {
    const number = descriptor.slice(0, -1);
    switch (descriptor.at(-1)) {
      case 'w':
        if (width || density || !NON_NEGATIVE_INTEGER.test(number) || Number(number) === 0) return false;
        width = true;
        break;
      case 'x':
        if (width || density || height || !FLOATING_POINT.test(number) || Number(number) < 0) return false;
        density = true;
        break;
      case 'h':
        if (height || density || !NON_NEGATIVE_INTEGER.test(number) || Number(number) === 0) return false;
        height = true;
        break;
      default:
        return false;
    }
  }
  return !height || width;
}
