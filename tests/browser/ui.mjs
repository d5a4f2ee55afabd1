// ui.mjs - berth's web UI in a real browser (Debian's chromium driven by
// playwright-core), plus its JSON API from Node.
//
//   node tests/browser/ui.mjs        (BERTH names the binary, ./berth)
//
// Two berths run on loopback.  "secured" has htpasswd logins, access
// rules (admin may do anything, viewer may pull public/** and team/**,
// anonymous users public/**) and deleting enabled; images are pushed to
// it over HTTP from here: small gzipped layers, a two-platform index with
// an SBOM referrer, tags sharing digests, 30 tags with shuffled dates.
// "open" has no logins, deleting off, REGISTRY_TITLE set and http.prefix
// /reg.  "storage" has logins (admin; deleter, who may delete anywhere
// but is no administrator), collections without a grace period and
// with the untagged policy, and two repositories sharing a layer.  Prints "PASS browser:<name>" or "FAIL browser:<name>" per test
// and saves screenshots in tests/artifacts/screenshots/; KEEP=1 keeps
// the scratch directory with berth's logs.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as H from './lib/harness.mjs';
import * as O from './lib/oci.mjs';

// Sizes as the page writes them: ui/format.js itself, copied to a .mjs
// name so that Node loads the browser module as one.
const formatCopy = path.join(H.work, 'format.mjs');
fs.copyFileSync(path.join(H.TOP, 'ui', 'format.js'), formatCopy);
const { size } = await import(pathToFileURL(formatCopy));

const LIMIT_MS = 60_000;
const USERS = { admin: 'admin-secret', viewer: 'viewer-secret',
	deleter: 'deleter-secret' };
const basic = (u) => 'Basic ' + Buffer.from(`${u}:${USERS[u]}`)
	.toString('base64');

let secured, open, storage, ctx, page, admin;
const digests = {};
const pushed = {};

function image(arch, day, extra) {
	return O.image({
		arch, created: new Date(Date.UTC(2024, 0, day)),
		variant: arch === 'arm64' ? 'v8' : undefined,
		files: [{ 'etc/os-release': `ID=test\nARCH=${arch}\n` },
			{ 'app/run.sh': `#!/bin/sh\necho ${arch} ${day}\n` }],
		steps: ['ADD file:4f2d0c in / ', 'CMD ["/bin/sh"]',
			'RUN /bin/sh -c apk add --no-cache curl # buildkit',
			'ENV APP_PORT=8080'],
		env: ['PATH=/usr/bin:/bin', 'APP_PORT=8080'],
		entrypoint: ['/app/run.sh'], cmd: ['serve'], user: 'app',
		labels: { 'org.opencontainers.image.source':
			'https://example.com/app' },
		ports: ['8080/tcp'], ...extra,
	});
}

async function seed(c) {
	const amd = image('amd64', 3), arm = image('arm64', 4);
	const idx = await c.pushIndex('public/multi', [amd, arm],
		['1.0', 'latest']);
	const sbom = O.referrer({ digest: idx.digest, size: idx.size },
		'application/spdx+json', '{"spdxVersion": "SPDX-2.3"}');
	await c.pushReferrer('public/multi', sbom);
	digests.index = idx.digest;
	digests.arm = arm.digest;

	await c.pushImage('public/alpine', image('amd64', 1), ['3.18']);
	await c.pushImage('public/alpine', image('amd64', 9), ['3.20', 'latest']);
	for (let i = 0; i < 30; i++)
		await c.pushImage('public/many', image('amd64', 1 + (i * 7) % 30,
			{ labels: { n: String(i) } }),
			['t' + String(i).padStart(2, '0')]);

	const v110 = image('amd64', 20);
	digests.v100 = await c.pushImage('team/app', image('amd64', 10),
		['v1.0.0']);
	digests.v120 = await c.pushImage('team/app', image('amd64', 12),
		['v1.2.0']);
	digests.v110 = await c.pushImage('team/app', v110, ['v1.10.0', 'dev']);
	await c.pushImage('team/app', image('amd64', 18), ['v1.10.0-rc1']);
	await c.pushImage('secret/vault', image('amd64', 2), ['1.0']);
}

// usage/one and usage/two share their first layer; each has a layer of
// its own, usage/two's big enough to tell apart.  pushed[repo] is what
// the repository holds, by kind of bytes.
async function seedStorage(c) {
	const base = { 'shared.txt': randomBytes(6000).toString('base64') };
	const one = image('amd64', 11, { files: [base,
		{ 'one.txt': randomBytes(3000).toString('base64') }] });
	const two = image('amd64', 12, { files: [base,
		{ 'two.txt': randomBytes(30000).toString('base64') }] });

	H.equal(one.layers[0], two.layers[0], 'the first layers are the same');
	for (const [repo, img] of [['usage/one', one], ['usage/two', two]]) {
		await c.pushImage(repo, img, ['v1']);
		const shared = img.layers[0].length;
		const bytes = img.manifest.length + img.config.length +
			img.layers.reduce((n, l) => n + l.length, 0);
		pushed[repo] = { bytes, shared, exclusive: bytes - shared };
	}
}

async function setup() {
	const file = H.htpasswd(USERS);
	secured = await H.startBerth('secured', [
		'auth:', '  htpasswd:', '    realm: berth ui test',
		`    path: ${file}`,
		'access:', '  admins: [admin]',
		'  anonymous:', '    - repositories: ["public/**"]',
		'      actions: [pull]',
		'  rules:', '    - repositories: ["public/**", "team/**"]',
		'      users: [viewer]', '      actions: [pull]',
	], { REGISTRY_STORAGE_DELETE_ENABLED: 'true' });
	admin = new O.Client(secured.url, basic('admin'));
	await seed(admin);

	storage = await H.startBerth('storage', [
		'auth:', '  htpasswd:', '    realm: berth ui test',
		`    path: ${file}`,
		'access:', '  admins: [admin]',
		'  rules:', '    - repositories: ["**"]',
		'      users: [deleter]', '      actions: [pull, push, delete]',
	], { REGISTRY_STORAGE_DELETE_ENABLED: 'true',
		REGISTRY_STORAGE_MAINTENANCE_GC_GRACEPERIOD: '0s',
		REGISTRY_STORAGE_MAINTENANCE_GC_DELETEUNTAGGED: 'true' });
	await seedStorage(new O.Client(storage.url, basic('admin')));

	open = await H.startBerth('open', ['  prefix: /reg'],
		{ REGISTRY_TITLE: 'Team Registry' });
	const c = new O.Client(open.url + '/reg');
	await c.pushImage('library/busybox', image('amd64', 5), ['1.36']);

	ctx = await H.launch();
	await ctx.grantPermissions(['clipboard-read', 'clipboard-write'],
		{ origin: secured.url });
	page = await ctx.newPage();
	page.on('pageerror', (e) => console.log('  page error: ' + e.message));
}

// Waits until the element matching selector contains text.
async function waitText(selector, text) {
	await page.locator(selector, { hasText: text }).first()
		.waitFor({ timeout: 10_000 });
}

async function texts(selector) {
	return page.locator(selector).allInnerTexts();
}

async function login(user, password, server) {
	await ctx.clearCookies();
	await page.goto((server || secured).url + '/login');
	await page.fill('#login-user', user);
	await page.fill('#login-password', password || USERS[user]);
	await page.click('form.card button[type=submit]');
}

async function logout() {
	await page.click('#account button:has-text("Log out")');
	await waitText('#account', 'Log in');
}

// ---- browsing ----

async function catalogAnonymous() {
	await page.goto(secured.url + '/');
	await waitText('#repo-count', '3 repositories');
	const names = await texts('main table a');
	H.equal(names, ['public/alpine', 'public/many', 'public/multi'],
		'anonymous users see only what they may pull');
	H.equal(await texts('.group h2'), ['public/'], 'namespace groups');
	const row = await page.locator('tr', { hasText: 'public/many' })
		.innerText();
	H.check(/\b30\b/.test(row), 'tag count shown: ' + row);
	await page.locator('#account a', { hasText: 'Log in' }).waitFor();
	await H.screenshot(page, 'ui-catalog');
}

async function searchWithKeyboard() {
	await page.goto(secured.url + '/');
	await waitText('#repo-count', 'repositories');
	await page.keyboard.press('/');
	H.check(await page.evaluate(() => document.activeElement.id ===
		'search'), '"/" focuses the search box');
	await page.keyboard.type('alp');
	await waitText('#repo-count', 'matching “alp”');
	H.equal(await texts('main table a'), ['public/alpine'],
		'search filters on the server');
	H.check(page.url().endsWith('/?q=alp'), 'the search is in the ' +
		'address: ' + page.url());
	await page.keyboard.press('Enter');
	await page.click('main table a');
	await waitText('h1', 'public/alpine');
}

async function multiArchHistory() {
	await page.goto(secured.url + '/r/public/multi:1.0');
	await waitText('h1', 'public/multi:1.0');
	H.equal(await texts('[role=tab]'), ['linux/amd64', 'linux/arm64/v8'],
		'one tab per platform');
	await page.click('[role=tab]:has-text("arm64")');
	await waitText('#platform-panel dd', 'linux/arm64/v8');
	H.check(new URL(page.url()).searchParams.get('platform') ===
		digests.arm,
		'the chosen platform is in the address: ' + page.url());
	const steps = await texts('#platform-panel .history .step');
	H.equal(steps, ['ADD file:4f2d0c in /', 'CMD ["/bin/sh"]',
		'RUN apk add --no-cache curl', 'ENV APP_PORT=8080'],
		'history reads like a Dockerfile');
	const config = await page.locator('#platform-panel .config')
		.innerText();
	for (const want of ['"/app/run.sh"', '"serve"', '8080/tcp', 'app',
		'APP_PORT=8080', 'org.opencontainers.image.source'])
		H.check(config.includes(want), 'config shows ' + want);
	await waitText('.referrers', 'application/spdx+json');
	H.equal((await texts('#platform-panel table.layers tbody tr')).length,
		2, 'both layers listed');
	const raw = page.locator('details', { hasText: 'Index JSON' });
	await raw.locator('summary').click();
	H.equal(JSON.parse(await raw.locator('pre').innerText()).manifests
		.length, 2, 'the index as stored');
	await H.screenshot(page, 'ui-image');
}

async function copyPullCommand() {
	await page.goto(secured.url + '/r/public/multi:1.0');
	await waitText('h1', 'public/multi:1.0');
	const box = page.locator('section.pull').first();
	await box.locator('button', { hasText: 'podman' }).click();
	await box.locator('button[aria-label="Copy pull command"]').click();
	const host = new URL(secured.url).host;
	const want = `podman pull --tls-verify=false ${host}/public/multi:1.0`;
	await waitText('#status', 'Copied');
	H.equal(await page.evaluate(() => navigator.clipboard.readText()),
		want, 'the clipboard holds the pull command');
	await box.locator('button', { hasText: 'docker' }).click();
	H.equal(await box.locator('code').innerText(),
		`docker pull ${host}/public/multi:1.0`, 'docker command');
}

async function tagsSortedAcrossPages() {
	await page.goto(secured.url + '/settings');
	await page.selectOption('#per-page', '25');
	await page.goto(secured.url + '/r/public/many?sort=date&order=desc');
	await waitText('#tag-count', '30 tags');
	const first = await texts('table.tags tbody tr td:nth-child(1) a');
	H.equal(first.length, 25, 'a page of 25');
	await page.click('.pager button:has-text("Next")');
	await waitText('.pager span', 'Page 2 of 2');
	const second = await texts('table.tags tbody tr td:nth-child(1) a');
	// Tag i was created on day 1 + (i * 7) % 30: newest is t17 (day 30).
	const want = [...Array(30).keys()].sort((a, b) =>
		(b * 7) % 30 - (a * 7) % 30).map((i) =>
		't' + String(i).padStart(2, '0'));
	H.equal([...first, ...second], want, 'dates sorted across all tags');
	await page.goto(secured.url + '/settings');
	await page.selectOption('#per-page', '50');
}

async function errorMessages() {
	await page.goto(secured.url + '/r/team/app');
	await waitText('main h2', 'Log in needed');
	await page.locator('main a', { hasText: 'Log in' }).waitFor();
	await page.goto(secured.url + '/r/public/nope');
	await waitText('main h2', 'Not found');
	await login('viewer');
	await waitText('#account', 'viewer');
	await page.goto(secured.url + '/r/secret/vault');
	await waitText('main h2', 'Not allowed');
	await logout();
}

// ---- logins and permissions ----

async function loginLogout() {
	await login('viewer', 'wrong password');
	await waitText('[role=alert]', 'Wrong user name or password');
	await login('viewer');
	await waitText('#account', 'Logged in as viewer');
	const cookie = (await ctx.cookies(secured.url))
		.find((c) => c.name === 'berth_session');
	H.check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict',
		'the session cookie is HttpOnly and SameSite=Strict');
	H.check(await page.evaluate(() => !document.cookie.includes(
		'berth_session')), 'scripts cannot read the session cookie');
	await page.goto(secured.url + '/');
	await waitText('#repo-count', '4 repositories');
	await logout();
	H.check(!(await ctx.cookies(secured.url)).some((c) =>
		c.name === 'berth_session'), 'logout clears the cookie');
	await page.goto(secured.url + '/');
	await waitText('#repo-count', '3 repositories');
}

async function deleteButtons() {
	await page.goto(secured.url + '/r/team/app');
	await waitText('#tag-count', 'tags');
	return {
		boxes: await page.locator('table.tags input[type=checkbox]')
			.count(),
		buttons: await page.locator('table.tags button',
			{ hasText: 'Delete' }).count(),
	};
}

async function viewerNotOfferedDelete() {
	await login('viewer');
	await waitText('#account', 'viewer');
	H.equal(await deleteButtons(), { boxes: 0, buttons: 0 },
		'viewer gets no delete controls');
	await page.goto(secured.url + '/r/team/app:v1.0.0');
	await waitText('h1', 'team/app:v1.0.0');
	H.equal(await page.locator('main button', { hasText: 'Delete' })
		.count(), 0, 'no delete on the image page');
	await logout();

	await login('admin');
	await waitText('#account', 'admin');
	H.equal(await deleteButtons(), { boxes: 5, buttons: 5 },
		'admin gets a checkbox and a delete button per tag');
}

async function deleteWithConfirmation() {
	await page.goto(secured.url + '/r/team/app');
	await waitText('#tag-count', '5 tags');
	const row = page.locator('tr[data-tag="dev"]');
	await row.locator('button', { hasText: 'Delete' }).click();
	const dialog = page.locator('dialog.confirm');
	await dialog.waitFor();
	H.check((await dialog.innerText()).includes('Also tagged v1.10.0'),
		'the confirmation names the other tag of the digest');
	await H.screenshot(page, 'ui-delete-confirm');
	await dialog.locator('button', { hasText: 'Cancel' }).click();
	await dialog.waitFor({ state: 'detached' });
	H.equal((await admin.tags('team/app')).length, 5,
		'cancel deletes nothing');

	await row.locator('button', { hasText: 'Delete' }).click();
	await dialog.locator('button', { hasText: 'Delete tag' }).click();
	await waitText('#status', 'Deleted 1 tag');
	await waitText('#tag-count', '4 tags');
	const left = await admin.tags('team/app');
	H.check(!left.includes('dev') && left.includes('v1.10.0'),
		'the tag went, the image stayed: ' + left);
}

async function multiSelectDelete() {
	await page.goto(secured.url + '/r/team/app?sort=name');
	await waitText('#tag-count', '4 tags');
	await page.check('tr[data-tag="v1.0.0"] input[type=checkbox]');
	await page.check('tr[data-tag="v1.2.0"] input[type=checkbox]');
	await page.click('button:has-text("Delete selected (2)")');
	const dialog = page.locator('dialog.confirm');
	await dialog.locator('button', { hasText: 'Delete 2 images' }).click();
	await waitText('#status', 'Deleted 2 images');
	await waitText('#tag-count', '2 tags');
	H.equal(await admin.status('team/app', digests.v100), 404,
		'v1.0.0\'s manifest is gone');
	H.equal(await admin.status('team/app', digests.v120), 404,
		'v1.2.0\'s manifest is gone');
	H.equal((await admin.tags('team/app')).sort(),
		['v1.10.0', 'v1.10.0-rc1'], 'the others are left');
	await logout();
}

// ---- layout, theme, other configurations ----

async function phoneWidth() {
	await page.setViewportSize({ width: 390, height: 844 });
	try {
		for (const path of ['/', '/r/public/many', '/r/public/multi:1.0']) {
			await page.goto(secured.url + path);
			await page.locator('main h1').waitFor();
			await page.waitForLoadState('networkidle');
			const over = await page.evaluate(() =>
				document.documentElement.scrollWidth -
				window.innerWidth);
			H.check(over <= 0, `${path} fits a phone (${over}px over)`);
		}
		await H.screenshot(page, 'ui-phone');
	} finally {
		await page.setViewportSize({ width: 1280, height: 860 });
	}
}

async function darkTheme() {
	await page.goto(secured.url + '/settings');
	await page.check('#theme-dark');
	const bg = () => page.evaluate(() =>
		getComputedStyle(document.body).backgroundColor);
	H.equal(await page.evaluate(() =>
		document.documentElement.dataset.theme), 'dark', 'dark applied');
	await page.goto(secured.url + '/r/public/multi:latest');
	await waitText('h1', 'public/multi:latest');
	H.equal(await bg(), 'rgb(18, 22, 28)', 'dark after a reload');
	await H.screenshot(page, 'ui-dark');
	await page.goto(secured.url + '/settings');
	await page.check('#theme-auto');
	H.equal(await bg(), 'rgb(255, 255, 255)', 'auto follows the light ' +
		'system theme');
}

// WCAG's contrast ratio of each kind of text against what is behind it.
const TEXTS = ['h1', 'td', 'th', '.subtle', 'main a', '.chip',
	'button.danger', 'code', '.crumbs a', '.top a', 'input'];

async function contrasts(selectors) {
	return page.evaluate((list) => {
		const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
		const lum = ([r, g, b]) => {
			const f = (v) => {
				v /= 255;
				return v <= 0.03928 ? v / 12.92 :
					((v + 0.055) / 1.055) ** 2.4;
			};
			return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
		};
		const background = (el) => {
			for (; el; el = el.parentElement) {
				const c = rgb(getComputedStyle(el).backgroundColor);
				if (c.length === 3 || c[3] > 0)
					return c;
			}
			return [255, 255, 255];
		};
		const out = {};
		for (const sel of list) {
			const el = document.querySelector(sel);
			if (!el)
				continue;
			const a = lum(rgb(getComputedStyle(el).color));
			const b = lum(background(el));
			out[sel] = (Math.max(a, b) + 0.05) /
				(Math.min(a, b) + 0.05);
		}
		return out;
	}, selectors || TEXTS);
}

async function readableContrast() {
	await login('admin');
	await waitText('#account', 'admin');
	for (const theme of ['light', 'dark']) {
		await page.evaluate((t) => localStorage.setItem('berth.theme', t),
			theme);
		await page.goto(secured.url + '/r/public/many');
		await waitText('#tag-count', '30 tags');
		const ratios = await contrasts();
		H.check(Object.keys(ratios).length >= 10, 'elements found: ' +
			Object.keys(ratios));
		for (const [sel, ratio] of Object.entries(ratios))
			H.check(ratio >= 4.5, `${theme}: ${sel} has contrast ` +
				ratio.toFixed(2) + ', below 4.5');
	}
	await page.evaluate(() => localStorage.removeItem('berth.theme'));
	await logout();
}

async function openRegistry() {
	await page.goto(open.url + '/reg/');
	await waitText('#repo-count', '1 repository');
	H.equal(await page.locator('#title').innerText(), 'Team Registry',
		'REGISTRY_TITLE names the registry');
	H.equal(await page.title(), 'Team Registry', 'and the page');
	H.equal(await page.locator('#account a', { hasText: 'Log in' })
		.count(), 0, 'no login without logins');
	await page.click('main table a');
	await waitText('h1', 'library/busybox');
	H.check(page.url() === open.url + '/reg/r/library/busybox',
		'addresses stay under http.prefix: ' + page.url());
	H.equal(await page.locator('table.tags input[type=checkbox]').count(),
		0, 'no delete when storage.delete is off');
	await page.goto(open.url + '/reg/');
	await page.locator('#gc-reclaimable').waitFor();
	H.check(await page.locator('#store-total').count() === 1,
		'without logins a local browser is an administrator');
}

async function unreachable() {
	await page.goto(open.url + '/reg/');
	await waitText('#repo-count', '1 repository');
	await H.stopBerth(open);
	await page.click('main table a');
	await waitText('main h2', 'Cannot reach the registry');
}

// ---- storage: usage in the catalog, the administrators' panel ----

async function adminApi(method, what) {
	const r = await fetch(storage.url + '/admin/' + what,
		{ method, headers: { Authorization: basic('admin') } });
	H.equal(r.status, 200, `${method} /admin/${what}`);
	return r.json();
}

// The bytes a catalog cell shows: [exact, as written].
async function cell(repo, label) {
	const td = page.locator(`tr[data-repo="${repo}"] ` +
		`td[data-label="${label}"]`);
	return [Number(await td.getAttribute('data-bytes')),
		await td.innerText()];
}

async function catalogUsage() {
	const usage = await adminApi('GET', 'usage');
	await login('admin', null, storage);
	await waitText('#account', 'admin');
	await page.goto(storage.url + '/');
	await page.locator('#store-total').waitFor();
	for (const repo of ['usage/one', 'usage/two']) {
		const want = pushed[repo];
		const got = usage.repositories.find((r) => r.name === repo);
		H.equal([got.bytes, got.shared_bytes, got.exclusive_bytes],
			[want.bytes, want.shared, want.exclusive],
			repo + ': /admin/usage counts what was pushed');
		H.equal(await cell(repo, 'Stored'), [want.bytes,
			size(want.bytes)], repo + ': stored');
		H.equal(await cell(repo, 'Only here'), [want.exclusive,
			size(want.exclusive)], repo + ': only here');
	}
	const total = page.locator('#store-total');
	H.equal([Number(await total.getAttribute('data-bytes')),
		await total.innerText()], [usage.total.bytes,
		size(usage.total.bytes)], 'the store\'s total');
	await H.screenshot(page, 'ui-storage');
}

// Deletes usage/two's only tag in the UI, waits until berth counts its
// bytes as garbage, then collects from the panel.
async function collectFromPanel() {
	const freed = pushed['usage/two'].exclusive;

	await page.goto(storage.url + '/r/usage/two');
	await waitText('#tag-count', '1 tag');
	await page.locator('tr[data-tag="v1"] button',
		{ hasText: 'Delete' }).click();
	await page.locator('dialog.confirm button',
		{ hasText: 'Delete tag' }).click();
	await waitText('#status', 'Deleted 1 tag');
	for (let i = 0; (await adminApi('GET', 'gc')).reclaimable_bytes !==
		freed; i++) {
		H.check(i < 100, 'berth never counted the deleted image as ' +
			'garbage');
		await H.sleep(200);
	}
	// A collection spares what requests touched in the second before.
	await H.sleep(1100);

	await page.goto(storage.url + '/');
	const reclaimable = page.locator('#gc-reclaimable');
	await reclaimable.waitFor();
	H.equal([Number(await reclaimable.getAttribute('data-bytes')),
		await reclaimable.innerText()], [freed, size(freed)],
		'the panel says what a collection would free');
	await page.click('#gc-start');
	const dialog = page.locator('dialog.confirm');
	await waitText('dialog.confirm', 'Collect garbage now?');
	H.check((await dialog.innerText()).includes(size(freed)),
		'the confirmation says how much goes');
	await dialog.locator('button', { hasText: 'Cancel' }).click();
	await dialog.waitFor({ state: 'detached' });
	H.equal((await adminApi('GET', 'gc')).last_run, null,
		'cancel starts nothing');

	await page.click('#gc-start');
	await dialog.locator('button', { hasText: 'Collect garbage' })
		.click();
	await waitText('#status', 'Collection done: freed ' + size(freed));
	const shown = page.locator('#gc-freed');
	await shown.waitFor();
	H.equal([Number(await shown.getAttribute('data-bytes')),
		await shown.innerText()], [freed, size(freed)],
		'the last run shows what it freed');
	const state = await adminApi('GET', 'gc');
	H.equal([state.last_run.status, state.last_run.freed_bytes,
		state.reclaimable_bytes], ['done', freed, 0],
		'the collection freed exactly that');
	await waitText('#repo-count', '1 repository');
	const one = pushed['usage/one'].bytes;
	H.equal([await cell('usage/one', 'Stored'),
		await cell('usage/one', 'Only here')],
	[[one, size(one)], [one, size(one)]],
	'the shared layer is usage/one\'s alone now');
	await H.screenshot(page, 'ui-storage-collected');
}

async function panelFitsAndReads() {
	await page.setViewportSize({ width: 390, height: 844 });
	try {
		await page.goto(storage.url + '/');
		await page.locator('#gc-start').waitFor();
		const over = await page.evaluate(() =>
			document.documentElement.scrollWidth - window.innerWidth);
		H.check(over <= 0, `the panel fits a phone (${over}px over)`);
		await H.screenshot(page, 'ui-storage-phone');
	} finally {
		await page.setViewportSize({ width: 1280, height: 860 });
	}
	for (const theme of ['light', 'dark']) {
		await page.evaluate((t) => localStorage.setItem('berth.theme', t),
			theme);
		await page.goto(storage.url + '/');
		await page.locator('#gc-start').waitFor();
		const ratios = await contrasts(['#storage h2', '#storage dt',
			'#storage dd', '#gc-start', '#gc-reclaimable',
			'td[data-label="Only here"]', '#store-total']);
		H.equal(Object.keys(ratios).length, 7, 'panel elements found');
		if (theme === 'dark')
			await H.screenshot(page, 'ui-storage-dark');
		for (const [sel, ratio] of Object.entries(ratios))
			H.check(ratio >= 4.5, `${theme}: ${sel} has contrast ` +
				ratio.toFixed(2) + ', below 4.5');
	}
	await page.evaluate(() => localStorage.removeItem('berth.theme'));
}

async function panelOnlyForAdmins() {
	await login('deleter', null, storage);
	await waitText('#account', 'deleter');
	await page.goto(storage.url + '/');
	await waitText('#repo-count', '1 repository');
	await page.locator('td[data-label="Stored"][data-bytes]').waitFor();
	H.equal(await page.locator('#storage, #gc-start, #store-total')
		.count(), 0, 'no panel and no store total for a non-admin');

	const r = await fetch(storage.url + '/ui/api/login', {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ user: 'deleter',
			password: USERS.deleter }) });
	const cookie = r.headers.get('set-cookie').split(';')[0];
	const { csrf } = await r.json();
	const info = await (await fetch(storage.url + '/ui/api/info',
		{ headers: { Cookie: cookie } })).json();
	H.equal([info.user, info.admin], ['deleter', false], 'info');
	const post = await fetch(storage.url + '/admin/gc', { method: 'POST',
		headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
	H.equal([post.status, (await post.json()).errors[0].code],
		[403, 'DENIED'], 'the endpoint refuses a non-admin');
	await ctx.clearCookies();
}

// ---- the JSON API ----

async function apiLogin(user, password, headers) {
	return fetch(secured.url + '/ui/api/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json', ...headers },
		body: JSON.stringify({ user, password }),
	});
}

async function apiSession(user) {
	const r = await apiLogin(user, USERS[user]);
	H.equal(r.status, 200, 'login');
	return { cookie: r.headers.get('set-cookie').split(';')[0],
		csrf: (await r.json()).csrf, setCookie: r.headers.get('set-cookie') };
}

async function apiLoginChecks() {
	let r = await apiLogin('viewer', 'nope');
	H.equal(r.status, 401, 'wrong password');
	H.equal(r.headers.get('www-authenticate'), null,
		'no browser password dialog is asked for');
	r = await apiLogin('viewer', USERS.viewer,
		{ 'Sec-Fetch-Site': 'cross-site' });
	H.equal(r.status, 403, 'a login posted from another site');
	r = await fetch(secured.url + '/ui/api/login', { method: 'POST',
		body: 'user=viewer&password=' + USERS.viewer,
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
	H.equal(r.status, 415, 'a form post, which needs no preflight');
	const s = await apiSession('viewer');
	for (const attr of ['HttpOnly', 'SameSite=Strict', 'Path=/'])
		H.check(s.setCookie.includes(attr), 'cookie has ' + attr);
	H.check(!s.setCookie.includes('Secure'), 'no Secure over plain http');
	H.check(/^berth_session=[0-9a-f]{64}$/.test(s.cookie),
		'a 256-bit token');
}

async function apiCsrf() {
	const c = new O.Client(secured.url, basic('admin'));
	await c.pushImage('team/csrf', image('amd64', 7), ['a', 'b']);
	const s = await apiSession('admin');
	const del = (tag, headers) => fetch(secured.url +
		'/v2/team/csrf/manifests/' + tag, { method: 'DELETE',
		headers: { Cookie: s.cookie, ...headers } });
	H.equal((await del('a')).status, 403, 'a cookie without the token');
	H.equal((await del('a', { 'X-CSRF-Token': '0'.repeat(64) })).status,
		403, 'a wrong token');
	H.equal((await del('a', { 'X-CSRF-Token': s.csrf })).status, 202,
		'the session\'s token');
	const v = await apiSession('viewer');
	const r = await fetch(secured.url + '/v2/team/csrf/manifests/b', {
		method: 'DELETE', headers: { Cookie: v.cookie,
			'X-CSRF-Token': v.csrf } });
	H.equal(r.status, 403, 'a viewer may not delete through /v2/');
	const info = await (await fetch(secured.url + '/ui/api/info',
		{ headers: { Cookie: s.cookie } })).json();
	H.equal([info.user, info.csrf], ['admin', s.csrf],
		'info gives the page its token back');
}

async function apiCatalogAccess() {
	const names = async (headers) => (await (await fetch(secured.url +
		'/ui/api/repositories?per_page=500', { headers })).json())
		.repositories.map((r) => r.name);
	H.equal(await names({}), ['public/alpine', 'public/many',
		'public/multi'], 'anonymous');
	const v = await apiSession('viewer');
	H.check(!(await names({ Cookie: v.cookie })).includes('secret/vault'),
		'viewer does not see secret/');
	H.check((await names({ Authorization: basic('admin') }))
		.includes('secret/vault'), 'admin sees everything');
	const r = await fetch(secured.url + '/ui/api/repositories?q=m&' +
		'per_page=1&page=2');
	const body = await r.json();
	H.equal([body.total, body.repositories.map((x) => x.name)],
		[2, ['public/multi']], 'search and pages');
}

async function apiSortAndRepush() {
	const c = new O.Client(secured.url, basic('admin'));
	const tags = ['1.10.0', '1.9.0', '1.10.0-rc1', 'v2.0', '1.2'];
	for (const [i, t] of tags.entries())
		await c.pushImage('team/versions', image('amd64', 1 + i), [t]);
	const get = async (q) => (await (await fetch(secured.url +
		'/ui/api/tags?repo=team/versions&' + q,
		{ headers: { Authorization: basic('admin') } })).json());
	H.equal((await get('sort=version&order=asc')).tags.map((t) => t.name),
		['1.2', '1.9.0', '1.10.0-rc1', '1.10.0', 'v2.0'],
		'version order');

	const before = (await get('q=1.2')).tags[0].digest;
	const again = image('arm64', 28);
	await c.pushImage('team/versions', again, ['1.2']);
	const after = (await get('q=1.2')).tags[0];
	H.check(before !== after.digest && after.digest === again.digest,
		'a tag pushed again shows its new digest');
	H.equal(after.platforms.map((p) => p.architecture), ['arm64'],
		'and its new platform');
}

async function apiAssets() {
	const get = (path, headers) => fetch(secured.url + path, { headers });
	let r = await get('/ui/app.js');
	H.equal([r.status, r.headers.get('content-type')],
		[200, 'text/javascript; charset=utf-8'], 'a script');
	const etag = r.headers.get('etag');
	H.check(/^"[0-9a-f]{20}"$/.test(etag), 'a strong ETag: ' + etag);
	H.check(r.headers.get('content-security-policy')
		.includes("default-src 'self'"), 'same-origin CSP');
	r = await get('/ui/app.js', { 'If-None-Match': etag });
	H.equal(r.status, 304, 'revalidation costs no transfer');
	r = await get('/ui/nothing.js');
	H.equal(r.status, 404, 'a missing file');
	for (const [path, status] of [['/', 200], ['/r/team/app:v1', 200],
		['/settings', 200], ['/elsewhere', 404]]) {
		r = await get(path);
		H.equal([path, r.status], [path, status], 'the page');
		H.check((await r.text()).includes('<meta name="berth-base" ' +
			'content="/">'), 'the page, with its base');
	}
	r = await fetch(secured.url + '/', { method: 'POST' });
	H.equal(r.status, 405, 'pages are read-only');
	r = await get('/ui/api/nothing');
	H.equal(r.status, 404, 'an unknown endpoint');
}

async function main() {
	let failed = 1;
	try {
		await setup();
		failed = await H.run([
			['catalog_anonymous', catalogAnonymous],
			['search_keyboard', searchWithKeyboard],
			['multiarch_image_history', multiArchHistory],
			['copy_pull_command', copyPullCommand],
			['tags_sorted_across_pages', tagsSortedAcrossPages],
			['error_messages', errorMessages],
			['login_logout', loginLogout],
			['viewer_not_offered_delete', viewerNotOfferedDelete],
			['delete_with_confirmation', deleteWithConfirmation],
			['multi_select_delete', multiSelectDelete],
			['phone_width', phoneWidth],
			['dark_theme', darkTheme],
			['readable_contrast', readableContrast],
			['open_registry_title_prefix', openRegistry],
			['unreachable_server', unreachable],
			['storage_catalog_usage', catalogUsage],
			['storage_collect_from_panel', collectFromPanel],
			['storage_panel_phone_contrast', panelFitsAndReads],
			['storage_panel_only_for_admins', panelOnlyForAdmins],
			['api_login', apiLoginChecks],
			['api_csrf_on_v2', apiCsrf],
			['api_catalog_access', apiCatalogAccess],
			['api_sort_and_repush', apiSortAndRepush],
			['api_assets', apiAssets],
		], () => page, LIMIT_MS);
	} catch (err) {
		console.log('  setup: ' + (err.stack || err));
		console.log('FAIL browser:setup');
	} finally {
		if (ctx)
			await ctx.close().catch(() => {});
		failed += await H.cleanup(process.env.KEEP === '1');
	}
	process.exit(failed ? 1 : 0);
}

main();
