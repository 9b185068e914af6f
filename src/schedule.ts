// When the next scheduled update runs: a fixed interval (`6h`) or a cron expression (`0 */6 * * *`, via croner).
import { Cron } from 'croner';
import { parseDuration } from './config.js';
import { UsageError } from './errors.js';

export interface Schedule {
  /** The next start after `from` (ms since the epoch). */
  next(from: number): number;
  describe(): string;
}

export function parseSchedule(text: string): Schedule {
  const interval = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (interval) {
    const everyMs = interval[2]?.toLowerCase() === 'd' ? Number(interval[1]) * 86_400_000 : parseDuration(text);
    if (everyMs < 1000) throw new UsageError(`--every must be at least 1s, not ${text}`);
    return { next: (from) => from + everyMs, describe: () => `every ${text.trim()}` };
  }
  let cron: Cron;
  try {
    cron = new Cron(text, { paused: true });
  } catch (error) {
    throw new UsageError(`--every takes a duration (6h, 30m, 1d) or a cron expression, not ${text} (${(error as Error).message})`);
  }
  return {
    next: (from) => cron.nextRun(new Date(from))?.getTime() ?? Infinity,
    describe: () => `on the cron schedule "${text}"`,
  };
}
