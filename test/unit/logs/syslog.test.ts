import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SyslogFramer } from '../../../src/sources/logs/syslog-framing.ts';
import { parseSyslog, syslogLabels } from '../../../src/sources/logs/syslog-parse.ts';

test('RFC 5424 with structured data and a BOM', () => {
  const m = parseSyslog('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\\]lication"] \ufeffAn application event');
  assert.ok(m);
  assert.equal(m.format, 'rfc5424');
  assert.equal(m.facility, 20);
  assert.equal(m.severity, 5);
  assert.equal(m.timestamp, Date.parse('2003-10-11T22:14:15.003Z'));
  assert.equal(m.host, 'mymachine.example.com');
  assert.equal(m.app, 'evntslog');
  assert.equal(m.procId, null);
  assert.equal(m.msgId, 'ID47');
  assert.equal(m.structuredData, '[exampleSDID@32473 iut="3" eventSource="App\\]lication"]');
  assert.equal(m.msg, 'An application event');
  assert.deepEqual(syslogLabels(m), { facility: 'local4', syslog_severity: 'notice', host: 'mymachine.example.com', app: 'evntslog' });
});

test('RFC 5424 as logger sends it, with nil fields and no message', () => {
  const m = parseSyslog('<13>1 2026-11-24T09:00:00.123456+05:00 host app 123 - - hello world\n');
  assert.equal(m?.msg, 'hello world');
  assert.equal(m?.procId, '123');
  assert.equal(parseSyslog('<13>1 - - - - - -')?.msg, '');
});

test('RFC 5424 MSG as rsyslog forwards it (RSYSLOG_SyslogProtocol23Format): no leading space, no BOM', () => {
  // Captured from rsyslogd forwarding what `logger -u SOCKET` wrote to its imuxsock socket.
  const m = parseSyslog('<13>1 2026-12-07T01:42:08.834735+00:00 vm billing - - -  kuzet-probe a\n');
  assert.deepEqual([m?.format, m?.host, m?.app, m?.msg], ['rfc5424', 'vm', 'billing', 'kuzet-probe a']);
  assert.equal(parseSyslog('<13>1 2026-12-07T01:42:08.850904+00:00 vm y - - -  \ufeffbom d\n')?.msg, 'bom d');
  assert.equal(parseSyslog('<13>1 - vm y - - [a@1 b="c"]  after sd')?.msg, 'after sd');
  // The sender's own indentation beyond the header's space is kept; so is everything after the BOM.
  assert.equal(parseSyslog('<13>1 - vm y - - -    indented')?.msg, '  indented');
  assert.equal(parseSyslog('<13>1 - vm y - - - \ufeff spaced')?.msg, ' spaced');
  assert.equal(parseSyslog('<13>1 - vm y - - - \ufeff')?.msg, '');
  assert.equal(parseSyslog('<13>1 - vm y - - -  ')?.msg, '');
  // A rule anchored at the start of the message matches.
  assert.match(parseSyslog('<13>1 - vm y - - -  ERROR disk full')!.msg, /^ERROR /);
});

test('RFC 3164 with and without a host, as rsyslog forwards and local senders write', () => {
  const fwd = parseSyslog('<30>Nov 24 09:00:01 web1 nginx[812]: upstream timed out\n');
  assert.deepEqual([fwd?.format, fwd?.host, fwd?.app, fwd?.procId, fwd?.msg], ['rfc3164', 'web1', 'nginx', '812', 'upstream timed out']);
  const local = parseSyslog(' <13>Nov  4 09:00:01 myapp: started');
  assert.deepEqual([local?.host, local?.app, local?.msg], [null, 'myapp', 'started']);
  const bare = parseSyslog('<13>just text');
  assert.deepEqual([bare?.host, bare?.app, bare?.msg, bare?.severity], [null, null, 'just text', 5]);
});

test('garbage is refused, never thrown', () => {
  for (const g of ['', 'hello', '<>x', '<999>x', '<01>x', '<1a>x', '\u0000\u0001']) assert.equal(parseSyslog(g), null, JSON.stringify(g));
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parseSyslog(s)));
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parseSyslog('<13>1 ' + s)));
});

test('octet counting (newline kept inside the frame), newline framing and NUL framing mix on one connection', () => {
  const f = new SyslogFramer(1000);
  const msgs = ['<13>1 - h a - - - one\n', '<13>two', '<13>three'];
  const wire = Buffer.from(`${Buffer.byteLength(msgs[0]!)} ${msgs[0]}${msgs[1]}\n${msgs[2]}\u0000`);
  const frames: string[] = [];
  for (let i = 0; i < wire.length; i += 3) frames.push(...f.push(wire.subarray(i, i + 3)).frames.map((b) => b.toString()));
  assert.deepEqual(frames, msgs);
  assert.equal(parseSyslog(frames[0]!)?.msg, 'one');
});

test('any split of octet-counted frames gives the same messages', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ minLength: 1, maxLength: 30 }), { maxLength: 10 }), fc.integer({ min: 1, max: 9 }), (bodies, step) => {
      const msgs = bodies.map((b) => `<14>${b}`);
      const wire = Buffer.concat(msgs.map((m) => Buffer.from(`${Buffer.byteLength(m)} ${m}`)));
      const f = new SyslogFramer(1000);
      const got: string[] = [];
      for (let i = 0; i < wire.length; i += step) got.push(...f.push(wire.subarray(i, i + step)).frames.map((b) => b.toString()));
      assert.deepEqual(got, msgs);
    }),
  );
});

test('over-long frames and garbage are counted and skipped; memory stays bounded', () => {
  const f = new SyslogFramer(100);
  let r = f.push(Buffer.from(`5000 <13>${'x'.repeat(200)}`));
  assert.equal(r.tooLong, 1);
  // 5000 announced, 204 sent with the header: 4796 more belong to the skipped frame.
  for (let i = 0; i < 44; i++) {
    r = f.push(Buffer.alloc(109, 0x78));
    assert.ok(f.buffered <= 100);
  }
  assert.equal(r.frames.length + r.garbage, 0);
  r = f.push(Buffer.from('<13>after\nnot syslog at all\n<13>ok\n' + '<13>' + 'y'.repeat(300) + '\n'));
  assert.deepEqual(r.frames.slice(0, 2).map(String), ['<13>after', '<13>ok']);
  assert.equal(r.garbage, 1);
  assert.equal(r.tooLong, 1);
  assert.equal(r.frames[2]!.length, 100, 'an over-long newline frame is cut to the bound');
});
