// Backup metrics on the registry the app gives us. Age is computed at scrape time from the
// injected clock, so it grows between backups without anyone touching it.

import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.ts';

export class BackupMetrics {
  readonly #lastComplete = new Map<string, number>();
  readonly #drillDuration: Gauge<'job'>;
  readonly #drillSuccess: Gauge<'job'>;
  readonly #verifySuccess: Gauge<'job'>;
  readonly #size: Gauge<'job'>;

  constructor(registry: Registry, clock: Clock) {
    const last = this.#lastComplete;
    new Gauge({
      name: 'kuzet_backup_age_seconds',
      help: 'Seconds since the newest complete backup of each job finished',
      labelNames: ['job'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [job, at] of last) this.set({ job }, Math.max(0, (clock.now() - at) / 1000));
      },
    });
    this.#drillDuration = new Gauge({
      name: 'kuzet_restore_drill_duration_seconds',
      help: 'Time the last restore drill of each job took to restore the backup (the recovery time achieved)',
      labelNames: ['job'],
      registers: [registry],
    });
    this.#drillSuccess = new Gauge({
      name: 'kuzet_restore_drill_success',
      help: '1 when the last restore drill of each job succeeded, 0 when it failed',
      labelNames: ['job'],
      registers: [registry],
    });
    this.#verifySuccess = new Gauge({
      name: 'kuzet_backup_verify_success',
      help: '1 when the last verification of each job passed, 0 when it failed',
      labelNames: ['job'],
      registers: [registry],
    });
    this.#size = new Gauge({ name: 'kuzet_backup_size_bytes', help: 'Size of the newest complete backup of each job', labelNames: ['job'], registers: [registry] });
  }

  backupCompleted(job: string, at: number, sizeBytes: number): void {
    const prev = this.#lastComplete.get(job);
    if (prev === undefined || at >= prev) {
      this.#lastComplete.set(job, at);
      this.#size.set({ job }, sizeBytes);
    }
  }

  verified(job: string, ok: boolean): void {
    this.#verifySuccess.set({ job }, ok ? 1 : 0);
  }

  drilled(job: string, ok: boolean, restoreSeconds: number | undefined): void {
    this.#drillSuccess.set({ job }, ok ? 1 : 0);
    if (restoreSeconds !== undefined) this.#drillDuration.set({ job }, restoreSeconds);
  }
}
