import type { Checkpoint } from './offsets.ts';

// What a log reader (file tailer, journald) hands its owner: items read, in order, with the checkpoint
// that covers them. The owner commits derived signals and then (or in the same transaction) the checkpoint.

export type TailItem =
  | { kind: 'lines'; text: string; lines: number }
  | { kind: 'event'; text: string; labels?: Record<string, string> };

export interface TailBatch {
  input: string;
  items: TailItem[];
  checkpoint: Checkpoint;
}

export type TailDeliver = (batch: TailBatch) => Promise<void>;

export type TailDropReason = 'line_too_long' | 'event_too_long' | 'lost_on_truncate' | 'file_vanished';

export interface TailMetrics {
  linesRead(input: string, n: number): void;
  dropped(input: string, reason: TailDropReason, n: number): void;
  /** A truncation lost lines (written after the last read, before the truncation): their estimated number. */
  gap?(input: string, estimatedLines: number): void;
}
