// Half-open intervals [start, end) in ms: the union, intersection and difference that turn many probes'
// failing spans into one system's down time without counting an overlap twice.

export type Interval = readonly [number, number];

/** Sorted, non-overlapping, touching intervals merged. */
export function union(list: readonly Interval[]): Interval[] {
  const xs = list.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  for (const [a, b] of xs) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function clip(list: readonly Interval[], from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (const [a, b] of list) {
    const s = Math.max(a, from);
    const e = Math.min(b, to);
    if (e > s) out.push([s, e]);
  }
  return out;
}

/** `list` minus `holes` (both unions). */
export function subtract(list: readonly Interval[], holes: readonly Interval[]): Interval[] {
  const hs = union(holes);
  const out: Interval[] = [];
  for (const [a, b] of union(list)) {
    let s = a;
    for (const [ha, hb] of hs) {
      if (hb <= s) continue;
      if (ha >= b) break;
      if (ha > s) out.push([s, ha]);
      s = Math.max(s, hb);
      if (s >= b) break;
    }
    if (s < b) out.push([s, b]);
  }
  return out;
}

export function total(list: readonly Interval[]): number {
  return list.reduce((n, [a, b]) => n + (b - a), 0);
}

/** Total length of `list` inside [from, to). */
export function overlap(list: readonly Interval[], from: number, to: number): number {
  return total(clip(list, from, to));
}
