import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { checkZoneData, type WorkingCalendar } from './calendar.ts';
import { loadCalendarFile } from './calendar-file.ts';

// The live working calendar: loaded at start (a bad file or bad tz data fails start-up), reloaded on SIGHUP (a bad
// file is reported and the previous calendar stays). After a successful reload the caller recomputes open deadlines
// (RequestService.recomputeDeadlines). Missing years are logged as errors, loudly, once per year per load.

export class CalendarSource {
  #calendar: WorkingCalendar | undefined;
  readonly #file: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  #warnedYears = new Set<number>();

  constructor(opts: { file: string; clock: Clock; logger: Logger }) {
    this.#file = opts.file;
    this.#clock = opts.clock;
    this.#log = opts.logger;
  }

  /** Load for the first time; throws KZ_ERR_CONFIG (with file:line:column) or on wrong tz data. */
  start(): WorkingCalendar {
    const tz = checkZoneData();
    if (tz) this.#log.error(`time zone: ${tz}`);
    return this.#load();
  }

  /** Reload from the file. Never throws: a bad file is logged and the previous calendar stays. */
  reload(): { ok: boolean; error?: string } {
    try {
      this.#load();
      return { ok: true };
    } catch (err) {
      const error = (err as Error).message;
      this.#log.error('working calendar reload refused; keeping the previous one', { error });
      return { ok: false, error };
    }
  }

  get(): WorkingCalendar {
    if (!this.#calendar) throw new Error('CalendarSource.get() before start()');
    return this.#calendar;
  }

  #load(): WorkingCalendar {
    const loaded = loadCalendarFile(this.#file, {
      now: this.#clock.now(),
      onMissingYear: (year) => {
        if (this.#warnedYears.has(year)) return;
        this.#warnedYears.add(year);
        this.#log.error(`working calendar ${this.#file} has no data for ${year}: deadlines in ${year} skip weekends only; add the year`);
      },
    });
    for (const w of loaded.warnings) {
      if (w.startsWith('WARNING')) this.#log.error(w);
      else this.#log.warn(w);
    }
    this.#calendar = loaded.calendar;
    this.#warnedYears = new Set();
    return loaded.calendar;
  }
}
