import { testApp, TEST_CONFIG, type TestApp } from './app.ts';

// The whole app with escalation to a real SMTP server: alice (on call) is paged by e-mail with an acknowledge link.

export const consoleConfig = (smtpPort: number, publicUrl = 'http://kuzet.test') => `${TEST_CONFIG}escalation:
  public_url: ${publicUrl}
  default_lang: ru
  ack_links: { secret: "\${KUZET_ACK_SECRET}", ttl: 2h }
  user_mail_channel: mail
  people:
    alice: { name: Alice Oncall, email: alice.oncall@example.kz, lang: ru, via: [mail] }
    bob: { name: Bob Second, email: bob.second@example.kz, lang: kk, via: [mail] }
  rotations:
    primary: { time_zone: Asia/Almaty, layers: [{ name: main, members: [alice, bob], hand_off: daily, hand_off_time: "09:00", start: "2026-01-01" }] }
  channels:
    mail: { type: email, host: 127.0.0.1, port: ${smtpPort}, from: kuzet@example.kz, timeout: 5s }
  policies:
    - name: portals
      match: { severities: [major, critical] }
      ack_deadline: 30m
      resolve_deadline: 4h
      steps:
        - { after: 0m, notify: [{ rotation: primary }] }
        - { after: 15m, notify: [{ person: bob }] }
`;

/** Sign in through the form; returns the session cookie and the page's CSRF token. */
export async function signIn(t: TestApp, token: string): Promise<{ cookie: string; csrf: string }> {
  const form = await t.app.http.inject({ url: '/login' });
  const loginCsrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
  const setCookie = String(form.headers['set-cookie']);
  const pre = /kuzet_login_csrf=([^;]+)/.exec(setCookie)![1]!;
  const r = await t.app.http.inject({
    method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kuzet_login_csrf=${pre}` },
    payload: new URLSearchParams({ _csrf: loginCsrf, token, next: '/incidents' }).toString(),
  });
  if (r.statusCode !== 303) throw new Error(`sign-in failed: ${r.statusCode} ${r.body}`);
  const cookie = /kuzet_session=[^;]+/.exec(String(r.headers['set-cookie']))![0];
  const page = await t.app.http.inject({ url: '/incidents', headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
  return { cookie, csrf };
}

export const alert = (over: Record<string, unknown> = {}) => ({
  labels: { alertname: 'EnbekDown', system: 'enbek', severity: 'critical', instance: 'enbek.kz:443' },
  annotations: { summary: 'enbek.kz does not answer' },
  startsAt: '2026-03-02T03:55:00Z',
  ...over,
});

export async function postAlert(t: TestApp, soc: string, alerts: unknown[] = [alert()]) {
  const r = await t.app.http.inject({ method: 'POST', url: '/api/v2/alerts', payload: JSON.stringify(alerts), headers: { 'content-type': 'application/json', authorization: `Bearer ${soc}` } });
  if (r.statusCode !== 200) throw new Error(`alert refused: ${r.statusCode} ${r.body}`);
}

export const ACK_SECRET = 'console-test-secret-0123456789';

/** The app with the console's escalation config (the ack secret comes from the environment, as in production). */
export const consoleApp = (smtpPort: number, publicUrl?: string, extra: Record<string, string> = {}) =>
  testApp(consoleConfig(smtpPort, publicUrl), extra, { KUZET_ACK_SECRET: ACK_SECRET });

/** The text of a received mail, whatever transfer encoding nodemailer chose. */
export function decodeMail(data: string): string {
  const [head, ...rest] = data.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n');
  if (/content-transfer-encoding:\s*base64/i.test(head!)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head!)) {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}
