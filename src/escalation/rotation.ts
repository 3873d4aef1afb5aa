import type { LayerConfig, RotationConfig } from './config.ts';

// Who is on call: pure functions of (rotation, instant). A layer hands off daily or weekly at a local
// time in the rotation's zone; later layers win where they cover the moment; overrides beat all layers.

const DAY = 86_400_000;
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export { zoneOffsetMinutes } from '../clock.ts';
import { FIXED_ZONES, zoneOffsetMinutes } from '../clock.ts';

/** True when the zone is known to the runtime (or pinned / a fixed offset). */
export function isValidZone(zone: string): boolean {
  if (zone in FIXED_ZONES || /^[+-]\d{2}:\d{2}$/.test(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const toLocal = (zone: string, t: number) => t + zoneOffsetMinutes(zone, t) * 60_000;
/** Local wall-clock ms back to an instant (exact for fixed-offset zones; at a DST gap it may be an hour off). */
const fromLocal = (zone: string, local: number) => local - zoneOffsetMinutes(zone, local - zoneOffsetMinutes(zone, local) * 60_000) * 60_000;

function hhmmToMs(text: string | undefined): number {
  if (!text) return 0;
  const [h, m] = text.split(':').map(Number);
  return (h! * 60 + m!) * 60_000;
}

export interface Shift {
  layer: string;
  person: string;
  start: number;
  end: number;
}

/** The shift of one layer at `t` (ignoring restrictions); null before the layer starts. */
export function layerShift(layer: LayerConfig, zone: string, t: number): Shift | null {
  const period = layer.hand_off === 'weekly' ? 7 * DAY : DAY;
  let first = Date.parse(`${layer.start}T00:00:00Z`) + hhmmToMs(layer.hand_off_time);
  if (layer.hand_off === 'weekly' && layer.hand_off_day) {
    const want = WEEKDAYS.indexOf(layer.hand_off_day);
    const have = new Date(first).getUTCDay();
    first += ((want - have + 7) % 7) * DAY;
  }
  const local = toLocal(zone, t);
  if (local < first || layer.members.length === 0) return null;
  const idx = Math.floor((local - first) / period);
  const startLocal = first + idx * period;
  return {
    layer: layer.name,
    person: layer.members[idx % layer.members.length]!,
    start: fromLocal(zone, startLocal),
    end: fromLocal(zone, startLocal + period),
  };
}

function covers(layer: LayerConfig, zone: string, t: number): boolean {
  const r = layer.restrict;
  if (!r) return true;
  const local = toLocal(zone, t);
  const d = new Date(local);
  if (r.days?.length && !r.days.includes(WEEKDAYS[d.getUTCDay()]!)) return false;
  if (r.hours) {
    const [from, to] = r.hours.split('-');
    const tod = local - Math.floor(local / DAY) * DAY;
    const a = hhmmToMs(from);
    const b = hhmmToMs(to);
    if (a <= b ? !(tod >= a && tod < b) : !(tod >= a || tod < b)) return false;
  }
  return true;
}

export interface OnCall {
  rotation: string;
  /** The person paged now; null when no layer covers the moment. */
  person: string | null;
  layer: string | null;
  override: boolean;
  until: number | null;
  layers: Array<Shift & { covering: boolean }>;
}

export const DEFAULT_ZONE = 'Asia/Almaty';

export function onCallAt(name: string, rot: RotationConfig, t: number): OnCall {
  const zone = rot.time_zone ?? DEFAULT_ZONE;
  const layers: OnCall['layers'] = [];
  for (const layer of rot.layers) {
    const s = layerShift(layer, zone, t);
    if (s) layers.push({ ...s, covering: covers(layer, zone, t) });
  }
  const ov = (rot.overrides ?? []).find((o) => Date.parse(o.start) <= t && t < Date.parse(o.end));
  if (ov) return { rotation: name, person: ov.person, layer: null, override: true, until: Date.parse(ov.end), layers };
  const top = [...layers].reverse().find((l) => l.covering);
  return { rotation: name, person: top?.person ?? null, layer: top?.layer ?? null, override: false, until: top?.end ?? null, layers };
}

export function onCallNow(rotations: Record<string, RotationConfig> | undefined, t: number): OnCall[] {
  return Object.entries(rotations ?? {}).map(([n, r]) => onCallAt(n, r, t));
}
