import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RotationConfig } from '../../../src/escalation/config.ts';
import { layerShift, onCallAt, zoneOffsetMinutes } from '../../../src/escalation/rotation.ts';

const at = (iso: string) => Date.parse(iso);

describe('on-call rotations', () => {
  it('Asia/Almaty is UTC+05:00 all year (no DST), whatever the runtime ICU says', () => {
    assert.equal(zoneOffsetMinutes('Asia/Almaty', at('2026-01-15T00:00:00Z')), 300);
    assert.equal(zoneOffsetMinutes('Asia/Almaty', at('2026-07-15T00:00:00Z')), 300);
    assert.equal(zoneOffsetMinutes('+03:00', 0), 180);
    assert.equal(zoneOffsetMinutes('Europe/Berlin', at('2026-07-15T00:00:00Z')), 120);
    assert.equal(zoneOffsetMinutes('Europe/Berlin', at('2026-01-15T00:00:00Z')), 60);
  });

  const daily: RotationConfig = {
    time_zone: 'Asia/Almaty',
    layers: [{ name: 'main', members: ['alice', 'bob', 'carol'], hand_off: 'daily', hand_off_time: '09:00', start: '2026-01-05' }],
  };

  it('hands off daily at 09:00 Almaty time (04:00 UTC)', () => {
    assert.equal(onCallAt('p', daily, at('2026-01-05T03:59:59Z')).person, null, 'before the rotation starts');
    assert.equal(onCallAt('p', daily, at('2026-01-05T04:00:00Z')).person, 'alice');
    assert.equal(onCallAt('p', daily, at('2026-01-06T03:59:59Z')).person, 'alice');
    const handOff = onCallAt('p', daily, at('2026-01-06T04:00:00Z'));
    assert.equal(handOff.person, 'bob');
    assert.equal(handOff.until, at('2026-01-07T04:00:00Z'));
    assert.equal(onCallAt('p', daily, at('2026-01-07T12:00:00Z')).person, 'carol');
    assert.equal(onCallAt('p', daily, at('2026-01-08T04:00:00Z')).person, 'alice', 'wraps around');
    // Across the summer (no DST in Almaty) the hand-off stays at 04:00 UTC.
    const summer = onCallAt('p', daily, at('2026-07-01T03:59:00Z'));
    const summer2 = onCallAt('p', daily, at('2026-07-01T04:00:00Z'));
    assert.notEqual(summer.person, summer2.person);
  });

  it('hands off weekly on the configured day and time', () => {
    const weekly: RotationConfig = {
      time_zone: 'Asia/Almaty',
      layers: [{ name: 'w', members: ['alice', 'bob'], hand_off: 'weekly', hand_off_day: 'monday', hand_off_time: '10:00', start: '2026-01-01' }],
    };
    // 2026-01-01 is a Thursday: the first shift starts Monday 2026-01-05 10:00 local = 05:00 UTC.
    const s = layerShift(weekly.layers[0]!, 'Asia/Almaty', at('2026-01-05T05:00:00Z'))!;
    assert.equal(s.person, 'alice');
    assert.equal(s.start, at('2026-01-05T05:00:00Z'));
    assert.equal(s.end, at('2026-01-12T05:00:00Z'));
    assert.equal(onCallAt('w', weekly, at('2026-01-12T04:59:00Z')).person, 'alice');
    assert.equal(onCallAt('w', weekly, at('2026-01-12T05:00:00Z')).person, 'bob');
  });

  it('a restricted upper layer wins only inside its hours; overrides beat every layer', () => {
    const rot: RotationConfig = {
      time_zone: 'Asia/Almaty',
      layers: [
        { name: 'night', members: ['nina'], hand_off: 'weekly', start: '2026-01-01' },
        { name: 'office', members: ['alice', 'bob'], hand_off: 'daily', hand_off_time: '09:00', start: '2026-01-05', restrict: { hours: '09:00-18:00', days: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'] } },
      ],
      overrides: [{ person: 'oleg', start: '2026-01-06T06:00:00Z', end: '2026-01-06T08:00:00Z' }],
    };
    assert.equal(onCallAt('r', rot, at('2026-01-05T05:00:00Z')).person, 'alice', 'Monday 10:00 local');
    assert.equal(onCallAt('r', rot, at('2026-01-05T13:00:00Z')).person, 'nina', 'Monday 18:00 local: office hours are over');
    assert.equal(onCallAt('r', rot, at('2026-01-10T05:00:00Z')).person, 'nina', 'Saturday');
    const ov = onCallAt('r', rot, at('2026-01-06T07:00:00Z'));
    assert.equal(ov.person, 'oleg');
    assert.equal(ov.override, true);
    assert.equal(onCallAt('r', rot, at('2026-01-06T08:00:00Z')).person, 'bob', 'override over');
  });
});
