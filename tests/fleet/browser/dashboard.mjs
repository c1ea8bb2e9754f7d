// Drives headless Chromium (Debian's /usr/bin/chromium) through the fleet
// dashboard for tests/fleet/dashboard_browser_test.cpp, which starts the
// service and checks what this script saw. Usage:
//   node dashboard.mjs SETTINGS.json
// with {base, token, device, channel, reason, screenshot, deviceScreenshot,
// chromium}. Prints
// one JSON object on stdout: what each step found. Exits 1 when a step
// could not be done at all (an element missing, a time-out).
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const seen = { dialogs: [] };

// As root in a closed network: no sandbox, and nothing that calls home.
const browser = await chromium.launch({
  executablePath: settings.chromium || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});

const path = (page) => new URL(page.url()).pathname;

/// Clicks `selector`, waits for the page it leads to; that page's status and path.
async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return { status: response.status(), path: path(page) };
}

try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  context.setDefaultTimeout(20000);
  const page = await context.newPage();
  // An alert would mean a script injected through a device's values ran.
  page.on('dialog', async (dialog) => {
    seen.dialogs.push(dialog.message());
    await dialog.dismiss();
  });

  // Not logged in: the fleet page is the log-in.
  await page.goto(settings.base + '/');
  seen.before = { path: path(page) };

  // A wrong token, then the right one.
  await page.fill('#secret', 'not-' + settings.token);
  seen.wrong = await submit(page, 'form[action="/login"] button');
  seen.wrong.message = await page.textContent('#login-error');
  seen.wrong.cookies = (await context.cookies()).length;
  await page.fill('#secret', settings.token);
  seen.login = await submit(page, 'form[action="/login"] button');
  const cookies = await context.cookies();
  seen.login.cookie = cookies.map((c) => ({
    name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path, secure: c.secure,
  }));

  // The fleet page: every number it shows, by name.
  seen.fleet = await page.evaluate(() => {
    const metrics = {};
    for (const b of document.querySelectorAll('[data-metric]')) {
      metrics[b.dataset.metric] = Number(b.textContent);
    }
    const waves = [...document.querySelectorAll('tr.wave')].map((tr) => {
      const row = { channel: tr.dataset.channel, release: tr.dataset.release, wave: tr.dataset.wave };
      for (const td of tr.querySelectorAll('[data-count]')) row[td.dataset.count] = Number(td.textContent);
      row.bar = [...tr.querySelectorAll('.bar span')].map((s) => s.className + ' ' + s.style.width);
      return row;
    });
    const failing = [...document.querySelectorAll('tr[data-device]')]
      .filter((tr) => tr.querySelector('td.err'))
      .map((tr) => ({ id: tr.dataset.device, error: tr.querySelector('td.err').textContent }));
    const channels = [...document.querySelectorAll('tr[data-channel][data-state]')]
      .map((tr) => ({ channel: tr.dataset.channel, state: tr.dataset.state }));
    return {
      metrics, waves, failing, channels,
      injected: document.querySelectorAll('img, script, #injected').length,
    };
  });
  await page.screenshot({ path: settings.screenshot });

  // A device's page shows its error as text: no element made of it.
  await page.goto(settings.base + '/devices/' + encodeURIComponent(settings.device));
  seen.device = await page.evaluate(() => ({
    id: document.querySelector('#device-id').textContent,
    phase: document.querySelector('#device-phase').textContent,
    error: document.querySelector('#device-error').textContent,
    errorChildren: document.querySelector('#device-error').children.length,
    injected: document.querySelectorAll('img, script, #injected').length,
  }));
  if (settings.deviceScreenshot) await page.screenshot({ path: settings.deviceScreenshot, fullPage: true });

  // Pause a channel with its button.
  await page.goto(settings.base + '/');
  const row = `tr[data-channel="${settings.channel}"][data-state]`;
  await page.fill(`${row} input[name="reason"]`, settings.reason);
  seen.pause = await submit(page, `${row} button[value="pause"]`);
  seen.pause.state = await page.getAttribute(row, 'data-state');

  // The same session without the CSRF token, and with a wrong one: refused.
  const resume = `${settings.base}/channels/${settings.channel}/resume`;
  const noToken = await context.request.post(resume, { form: { reason: 'x' }, maxRedirects: 0 });
  const badToken = await context.request.post(resume, { form: { csrf: '0'.repeat(64) }, maxRedirects: 0 });
  seen.csrf = { without: noToken.status(), wrong: badToken.status() };

  // A form on another site posting to the service: no cookie goes along
  // (SameSite=Strict), so it ends at the log-in.
  const other = await context.newPage();
  await other.setContent(`<form method="post" action="${resume}">` +
    '<input name="csrf" value="x"><button>resume</button></form>');
  seen.crossSite = await submit(other, 'button');
  await other.close();

  // Log out: the session is gone from the browser.
  await page.goto(settings.base + '/');
  seen.logout = await submit(page, 'header form button');
  await page.goto(settings.base + '/');
  seen.logout.after = path(page);
  await context.close();
} catch (e) {
  console.log(JSON.stringify(seen));
  console.error(String(e && e.stack ? e.stack : e));
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify(seen));
