// harness.mjs - what the browser tests share: a scratch directory, berth
// started on a free loopback port with a config written here, htpasswd
// users made with `berth user add`, Debian's chromium through
// playwright-core, and a runner printing one "PASS browser:<name>" or
// "FAIL browser:<name>" line per test.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const TOP = path.resolve(HERE, '..', '..', '..');
export const BERTH = path.resolve(TOP, process.env.BERTH || 'berth');
export const SHOTS = path.join(TOP, 'tests', 'artifacts', 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ui-'));
const servers = [];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

// Writes an htpasswd file with users ({name: password}).
export function htpasswd(users) {
	const file = path.join(work, 'htpasswd');

	for (const [name, password] of Object.entries(users)) {
		const r = spawnSync(BERTH, ['user', 'add', file, name], {
			input: password + '\n',
			env: { ...process.env, BERTH_BCRYPT_COST: '4' },
		});
		if (r.status !== 0)
			throw new Error(`berth user add ${name}: ${r.stderr}`);
	}
	return file;
}

// Starts berth with the YAML lines given after version, storage and
// http.addr, and extra environment.  Resolves once it answers.
export async function startBerth(name, yaml, env) {
	const port = await freePort();
	const dir = path.join(work, name);
	const config = path.join(dir, 'config.yml');
	const clean = Object.fromEntries(Object.entries(process.env)
		.filter(([k]) => !k.startsWith('REGISTRY_')));

	fs.mkdirSync(path.join(dir, 'root'), { recursive: true });
	fs.writeFileSync(config, [
		'version: 0.1',
		'log:',
		'  level: info',
		'storage:',
		'  filesystem:',
		`    rootdirectory: ${dir}/root`,
		'http:',
		`  addr: 127.0.0.1:${port}`,
		...yaml,
		'',
	].join('\n'));
	const log = fs.openSync(path.join(dir, 'berth.log'), 'a');
	const child = spawn(BERTH, ['serve', config], {
		env: { ...clean, ...(env || {}) },
		stdio: ['ignore', log, log],
	});
	const server = { name, child, port, dir, url: `http://127.0.0.1:${port}`,
		log: path.join(dir, 'berth.log') };

	servers.push(server);
	for (let i = 0; i < 200 && child.exitCode === null; i++) {
		try {
			await fetch(server.url + '/v2/');
			return server;
		} catch {
			await sleep(50);
		}
	}
	throw new Error(`berth ${name} did not start:\n` +
		fs.readFileSync(server.log, 'utf8'));
}

export async function stopBerth(server) {
	if (server.child.exitCode !== null || server.child.signalCode)
		return;
	const done = new Promise((r) => server.child.once('exit', r));
	server.child.kill('SIGTERM');
	await done;
}

export async function launch() {
	const profile = fs.mkdtempSync(path.join(work, 'chromium-'));

	return chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
			'--disable-quic', '--no-first-run',
			'--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 860 },
	});
}

export async function screenshot(page, name) {
	fs.mkdirSync(SHOTS, { recursive: true });
	await page.screenshot({ path: path.join(SHOTS, name + '.png'),
		fullPage: true });
}

// Runs tests in order, each at most limitMs.  A failing test prints
// why, takes a screenshot of page() if there is one, and the run goes
// on.  Resolves to the number of failures.
export async function run(tests, page, limitMs) {
	let failed = 0;

	if (fs.existsSync(SHOTS))
		for (const f of fs.readdirSync(SHOTS))
			if (f.startsWith('FAIL-ui-'))
				fs.rmSync(path.join(SHOTS, f));

	for (const [name, fn] of tests) {
		let timer;
		try {
			await Promise.race([fn(), new Promise((_, reject) => {
				timer = setTimeout(() => reject(new Error(
					'timed out after ' + limitMs + ' ms')),
					limitMs);
			})]);
			console.log(`PASS browser:${name}`);
		} catch (err) {
			failed++;
			console.log(`  ${name}: ${err.stack || err}`);
			const p = page();
			if (p)
				await screenshot(p, 'FAIL-ui-' + name)
					.catch(() => {});
			console.log(`FAIL browser:${name}`);
		} finally {
			clearTimeout(timer);
		}
	}
	return failed;
}

const SANITIZER = /ERROR: (Address|Leak)Sanitizer|runtime error:/;

// Stops every berth and removes the scratch directory (unless keep).  A
// sanitizer report in a berth's log is a failure of its own, printed as
// "FAIL browser:sanitizer_<server>"; resolves to how many there were.
export async function cleanup(keep) {
	let failed = 0;

	for (const s of servers) {
		await stopBerth(s).catch(() => {});
		const log = fs.existsSync(s.log) ?
			fs.readFileSync(s.log, 'utf8') : '';
		if (!SANITIZER.test(log))
			continue;
		failed++;
		console.log(log.split('\n').filter((l) => l).slice(-40)
			.map((l) => '  ' + l).join('\n'));
		console.log(`FAIL browser:sanitizer_${s.name}`);
	}
	if (!keep)
		fs.rmSync(work, { recursive: true, force: true });
	return failed;
}

export function check(cond, message) {
	if (!cond)
		throw new Error('check failed: ' + message);
}

export function equal(actual, expected, message) {
	const a = JSON.stringify(actual), e = JSON.stringify(expected);
	if (a !== e)
		throw new Error(`${message}: got ${a}, want ${e}`);
}
