// cors.mjs - CORS in a real browser: Debian's chromium, driven by
// playwright-core, loads a page from origin A whose script calls berth on
// origin B with a Basic login: the catalog, a manifest GET with docker's
// long Accept header, and a DELETE.  Authorization, that Accept header and
// DELETE each force a preflight, which carries no credentials.
//
//   node tests/browser/cors.mjs        (BERTH names the binary, ./berth)
//
// A is http://127.0.0.1:PORT and B http://localhost:PORT, another site:
// for a 401 to a same-site page chromium would open a login dialog,
// which a headless run can only wait on.
//
// Three berths are started in turn on loopback ports: one listing A in
// http.cors.origins (everything works), one listing only another origin
// (every call is refused by the browser, and the DELETE never reaches
// berth), and one configured the registry:2 way with
// REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin (everything works).
// Prints "PASS access:cors_browser_<name>" or "FAIL ..." per check, saves
// screenshots to tests/artifacts/screenshots/, exits 1 on any failure.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOP = path.resolve(HERE, '..', '..');
const BERTH = path.resolve(TOP, process.env.BERTH || 'berth');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(TOP, 'tests', 'artifacts', 'screenshots');
const LIMIT_MS = 240_000;

const USER = 'webui';
const PASSWORD = 'cors-browser-pw';
const REPO = 'web/app';

// What docker sends when it pulls.
const DOCKER_ACCEPT = [
	'application/vnd.docker.distribution.manifest.v2+json',
	'application/vnd.docker.distribution.manifest.list.v2+json',
	'application/vnd.oci.image.index.v1+json',
	'application/vnd.oci.image.manifest.v1+json',
	'application/vnd.docker.distribution.manifest.v1+prettyjws',
].join(', ');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cors-'));
const children = [];
let failed = 0;
let passed = 0;

function report(name, ok, detail) {
	console.log(`${ok ? 'PASS' : 'FAIL'} access:cors_browser_${name}`);
	if (!ok) {
		failed++;
		for (const line of String(detail).split('\n'))
			console.log(`    ${line}`);
	} else {
		passed++;
	}
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sha256(buf) {
	return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}

// The htpasswd file, written by berth's own user command.
function makeHtpasswd() {
	const file = path.join(work, 'htpasswd');
	const r = spawnSync(BERTH, ['user', 'add', file, USER], {
		input: PASSWORD + '\n',
		env: { ...process.env, BERTH_BCRYPT_COST: '4' },
	});
	if (r.status !== 0)
		throw new Error(`berth user add: ${r.stdout}${r.stderr}`);
	return file;
}

// Starts berth with extra http: YAML lines and environment; resolves
// once /v2/ answers.
async function startBerth(name, httpYaml, env, htpasswd) {
	const port = await freePort();
	const dir = path.join(work, name);
	fs.mkdirSync(path.join(dir, 'root'), { recursive: true });
	const config = path.join(dir, 'config.yml');
	fs.writeFileSync(config, [
		'version: 0.1',
		'storage:',
		'  filesystem:',
		`    rootdirectory: ${dir}/root`,
		'  delete:',
		'    enabled: true',
		'http:',
		`  addr: 127.0.0.1:${port}`,
		...httpYaml.map((l) => '  ' + l),
		'auth:',
		'  htpasswd:',
		'    realm: berth browser test',
		`    path: ${htpasswd}`,
		'',
	].join('\n'));
	const clean = Object.fromEntries(Object.entries(process.env)
		.filter(([k]) => !k.startsWith('REGISTRY_')));
	const log = fs.openSync(path.join(dir, 'berth.log'), 'a');
	const child = spawn(BERTH, ['serve', config], {
		env: { ...clean, ...env },
		stdio: ['ignore', log, log],
	});
	children.push(child);
	const url = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 200; i++) {
		if (child.exitCode !== null)
			break;
		try {
			const r = await fetch(url + '/v2/');
			if (r.status === 401)
				return { child, port, url, dir };
		} catch {
			// not listening yet
		}
		await sleep(50);
	}
	throw new Error(`berth ${name} did not start:\n` +
		fs.readFileSync(path.join(dir, 'berth.log'), 'utf8'));
}

async function stopBerth(b) {
	if (b.child.exitCode !== null)
		return b.child.exitCode;
	const done = new Promise((r) => b.child.once('exit', r));
	b.child.kill('SIGTERM');
	return done;
}

const AUTH = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

// Pushes a small OCI image from here (no browser, no CORS); returns the
// manifest's digest.
async function pushImage(url, tag) {
	const config = Buffer.from(JSON.stringify({
		architecture: 'amd64', os: 'linux',
		rootfs: { type: 'layers', diff_ids: [] },
		config: { Env: [`TAG=${tag}`, `T=${Date.now()}`] },
	}));
	const blobs = [config];
	for (const blob of blobs) {
		const d = sha256(blob);
		const r = await fetch(`${url}/v2/${REPO}/blobs/uploads/` +
			`?digest=${d}`, {
			method: 'POST', body: blob,
			headers: { Authorization: AUTH,
				'Content-Type': 'application/octet-stream' },
		});
		if (r.status !== 201)
			throw new Error(`blob push: ${r.status} ${await r.text()}`);
	}
	const manifest = Buffer.from(JSON.stringify({
		schemaVersion: 2,
		mediaType: 'application/vnd.oci.image.manifest.v1+json',
		config: { mediaType: 'application/vnd.oci.image.config.v1+json',
			digest: sha256(config), size: config.length },
		layers: [],
	}));
	const r = await fetch(`${url}/v2/${REPO}/manifests/${tag}`, {
		method: 'PUT', body: manifest,
		headers: { Authorization: AUTH, 'Content-Type':
			'application/vnd.oci.image.manifest.v1+json' },
	});
	if (r.status !== 201)
		throw new Error(`manifest push: ${r.status} ${await r.text()}`);
	return sha256(manifest);
}

async function manifestStatus(url, ref) {
	const r = await fetch(`${url}/v2/${REPO}/manifests/${ref}`, {
		method: 'HEAD',
		headers: { Authorization: AUTH, Accept: DOCKER_ACCEPT },
	});
	return r.status;
}

// The page on origin A.  runChecks() makes the three calls and shows
// each outcome in a table, for the screenshot.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>berth CORS check</title>
<style>
body { font: 15px sans-serif; margin: 2em; }
td, th { border: 1px solid #999; padding: 4px 10px; text-align: left; }
table { border-collapse: collapse; }
.ok { background: #d7f5d7; } .refused { background: #f8d7d7; }
</style></head>
<body><h1>berth CORS check</h1><p id="where"></p>
<table><thead><tr><th>call</th><th>outcome</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>
async function call(name, url, init, read) {
	let out;
	try {
		// A call that hangs is a failure, not a stuck test.
		const r = await fetch(url, { ...init,
			signal: AbortSignal.timeout(10000) });
		out = { name, ok: true, status: r.status,
			value: await read(r) };
	} catch (e) {
		out = { name, ok: false, error: String(e) };
	}
	const tr = document.createElement('tr');
	tr.className = out.ok ? 'ok' : 'refused';
	tr.innerHTML = '<td></td><td></td>';
	tr.children[0].textContent = name;
	tr.children[1].textContent = out.ok
		? out.status + ' ' + JSON.stringify(out.value)
		: 'refused: ' + out.error;
	document.getElementById('rows').appendChild(tr);
	return out;
}

async function runChecks(registry, repo, tag, auth, accept, label) {
	document.getElementById('where').textContent =
		label + ': page on ' + location.origin + ', berth on ' + registry;
	const base = registry + '/v2/';
	const results = [];
	results.push(await call('catalog', base + '_catalog', {
		credentials: 'include', headers: { Authorization: auth },
	}, async (r) => (await r.json()).repositories));
	results.push(await call('manifest', base + repo + '/manifests/' + tag, {
		credentials: 'include',
		headers: { Authorization: auth, Accept: accept },
	}, async (r) => ({ digest: r.headers.get('Docker-Content-Digest'),
		type: r.headers.get('Content-Type'),
		bytes: (await r.arrayBuffer()).byteLength })));
	results.push(await call('challenge', base, { credentials: 'include' },
		async (r) => r.headers.get('WWW-Authenticate')));
	const digest = results[1].ok ? results[1].value.digest : tag;
	results.push(await call('delete', base + repo + '/manifests/' + digest, {
		method: 'DELETE', credentials: 'include',
		headers: { Authorization: auth },
	}, async () => null));
	return results;
}
</script></body></html>`;

function startPageServer(port) {
	const server = http.createServer((req, res) => {
		res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8',
			'Cache-Control': 'no-store' });
		res.end(PAGE);
	});
	return new Promise((resolve) =>
		server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function scenario(ctx, pageUrl, name, berth, host, allowed) {
	const registry = `http://${host}:${berth.port}`;
	const tag = 'v1';
	const digest = await pushImage(berth.url, tag);
	const page = await ctx.newPage();
	try {
		await page.goto(pageUrl, { waitUntil: 'load', timeout: 20_000 });
		const results = await page.evaluate(
			([r, repo, t, a, acc, label]) =>
				runChecks(r, repo, t, a, acc, label),
			[registry, REPO, tag, AUTH, DOCKER_ACCEPT, name]);
		fs.mkdirSync(SHOTS, { recursive: true });
		await page.screenshot({ path: path.join(SHOTS,
			`cors-${name}.png`), fullPage: true });
		const by = Object.fromEntries(results.map((r) => [r.name, r]));
		const show = JSON.stringify(results, null, 1);
		if (allowed) {
			const c = by.catalog, m = by.manifest, ch = by.challenge;
			report(`${name}_catalog`, c.ok && c.status === 200 &&
				c.value.includes(REPO), show);
			report(`${name}_manifest_docker_accept`, m.ok &&
				m.status === 200 && m.value.digest === digest &&
				m.value.type ===
				'application/vnd.oci.image.manifest.v1+json', show);
			report(`${name}_401_challenge_readable`, ch.ok &&
				ch.status === 401 &&
				/^Basic realm="berth browser test"$/.test(ch.value),
				show);
			// Authorization, the long Accept and DELETE each
			// needed a preflight, answered without a login.
			const log = fs.readFileSync(path.join(berth.dir,
				'berth.log'), 'utf8');
			const pre = log.split('\n').filter((l) =>
				/method=OPTIONS .*status=20[04]/.test(l));
			report(`${name}_preflights_answered`, pre.length >= 3,
				`OPTIONS answered: ${pre.length}\n` +
				log.split('\n').slice(-20).join('\n'));
			const gone = await manifestStatus(berth.url, digest);
			report(`${name}_delete`, by.delete.ok &&
				by.delete.status === 202 && gone === 404,
				`${show}\nmanifest afterwards: ${gone}`);
		} else {
			for (const r of results)
				report(`${name}_${r.name}_refused`, !r.ok &&
					/TypeError|Failed to fetch/.test(r.error),
					show);
			const still = await manifestStatus(berth.url, digest);
			report(`${name}_delete_never_sent`, still === 200,
				`manifest status after the refused DELETE: ${still}`);
		}
	} finally {
		await page.close();
	}
}

async function main() {
	if (!fs.existsSync(BERTH))
		throw new Error(`no berth binary at ${BERTH}`);
	const htpasswd = makeHtpasswd();
	const pagePort = await freePort();
	const pageOrigin = `http://127.0.0.1:${pagePort}`;
	const pageServer = await startPageServer(pagePort);
	const profile = path.join(work, 'chromium-profile');
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
			'--disable-quic', '--no-first-run',
			'--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
		viewport: { width: 1000, height: 420 },
		timeout: 60_000,
	});
	const pageUrl = pageOrigin + '/';
	try {
		const cases = [
			['allowed', [`cors:`, `  origins: [${pageOrigin}]`], {},
				'localhost', true],
			['other_origin', [`cors:`,
				`  origins: ["http://127.0.0.1:1"]`], {},
				'localhost', false],
			['registry2_header', [], {
				'REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin':
					`["${pageOrigin}"]`,
			}, 'localhost', true],
		];
		for (const [name, yaml, env, host, allowed] of cases) {
			const b = await startBerth(name, yaml, env, htpasswd);
			try {
				await scenario(ctx, pageUrl, name, b, host, allowed);
			} finally {
				const rc = await stopBerth(b);
				report(`${name}_berth_clean_exit`, rc === 0,
					`berth exit status ${rc}\n` +
					fs.readFileSync(path.join(b.dir, 'berth.log'),
						'utf8').split('\n').slice(-15).join('\n'));
			}
		}
	} finally {
		await ctx.close();
		pageServer.close();
	}
}

const watchdog = setTimeout(() => {
	report('finished_in_time', false, `still running after ${LIMIT_MS} ms`);
	for (const c of children)
		c.kill('SIGKILL');
	process.exit(1);
}, LIMIT_MS);

try {
	await main();
} catch (e) {
	report('ran', false, e.stack || e);
} finally {
	clearTimeout(watchdog);
	for (const c of children)
		if (c.exitCode === null)
			c.kill('SIGKILL');
	fs.rmSync(work, { recursive: true, force: true });
}
console.log(`cors: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
