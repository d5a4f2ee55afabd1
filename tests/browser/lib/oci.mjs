// oci.mjs - builds small but real OCI images in memory and pushes them to
// a registry over HTTP, as a client would: gzipped tar layers, an image
// config with history, manifests, multi-platform indexes and referrers.

import { createHash } from 'node:crypto';
import zlib from 'node:zlib';

export const MT = {
	manifest: 'application/vnd.oci.image.manifest.v1+json',
	index: 'application/vnd.oci.image.index.v1+json',
	config: 'application/vnd.oci.image.config.v1+json',
	layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
	empty: 'application/vnd.oci.empty.v1+json',
};

export function sha256(buf) {
	return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}

// One ustar header block for a regular file.
function tarHeader(name, size) {
	const h = Buffer.alloc(512);
	const field = (off, len, s) => h.write(s, off, len, 'ascii');
	const octal = (n, len) => n.toString(8).padStart(len - 1, '0') + '\0';

	field(0, 100, name);
	field(100, 8, octal(0o644, 8));
	field(108, 8, octal(0, 8));
	field(116, 8, octal(0, 8));
	field(124, 12, octal(size, 12));
	field(136, 12, octal(1700000000, 12));
	field(148, 8, '        ');
	field(156, 1, '0');
	field(257, 6, 'ustar\0');
	field(263, 2, '00');
	let sum = 0;
	for (const b of h)
		sum += b;
	field(148, 8, octal(sum, 7) + ' ');
	return h;
}

// A gzipped tar holding files ({path: text}).
export function layer(files) {
	const parts = [];

	for (const [name, text] of Object.entries(files)) {
		const data = Buffer.from(text);
		parts.push(tarHeader(name, data.length), data,
			Buffer.alloc((512 - data.length % 512) % 512));
	}
	parts.push(Buffer.alloc(1024));
	return zlib.gzipSync(Buffer.concat(parts));
}

// An image: {os, arch, variant, created (Date), files: [{path: text}]
// per layer, cmd, entrypoint, env, labels, ports, user, steps (created_by
// strings for the layers, plus empty steps)}.  Returns its blobs and
// manifest bytes.
export function image(spec) {
	const layers = spec.files.map(layer);
	const created = (spec.created || new Date()).toISOString();
	const history = [];
	let i = 0;

	for (const step of spec.steps) {
		const empty = step.startsWith('#(nop)') || step.startsWith('ENV') ||
			step.startsWith('CMD') || step.startsWith('LABEL');
		history.push({ created, created_by: empty ?
			'/bin/sh -c #(nop) ' + step.replace(/^#\(nop\) /, '') :
			step, ...(empty ? { empty_layer: true } : {}) });
		if (!empty)
			i++;
	}
	if (i !== layers.length)
		throw new Error('history names ' + i + ' layers, image has ' +
			layers.length);

	const config = Buffer.from(JSON.stringify({
		created,
		architecture: spec.arch || 'amd64',
		os: spec.os || 'linux',
		...(spec.variant ? { variant: spec.variant } : {}),
		config: {
			User: spec.user || '',
			Env: spec.env || ['PATH=/usr/bin:/bin'],
			Entrypoint: spec.entrypoint || null,
			Cmd: spec.cmd || ['sh'],
			WorkingDir: spec.workdir || '',
			Labels: spec.labels || {},
			ExposedPorts: Object.fromEntries((spec.ports || [])
				.map((p) => [p, {}])),
		},
		rootfs: { type: 'layers', diff_ids: layers.map((l) =>
			sha256(zlib.gunzipSync(l))) },
		history,
	}));
	const manifest = Buffer.from(JSON.stringify({
		schemaVersion: 2,
		mediaType: MT.manifest,
		config: { mediaType: MT.config, digest: sha256(config),
			size: config.length },
		layers: layers.map((l) => ({ mediaType: MT.layer,
			digest: sha256(l), size: l.length })),
	}));
	return { config, layers, manifest, digest: sha256(manifest),
		size: manifest.length, platform: { os: spec.os || 'linux',
			architecture: spec.arch || 'amd64',
			...(spec.variant ? { variant: spec.variant } : {}) } };
}

export function index(images) {
	const manifest = Buffer.from(JSON.stringify({
		schemaVersion: 2,
		mediaType: MT.index,
		manifests: images.map((img) => ({ mediaType: MT.manifest,
			digest: img.digest, size: img.size,
			platform: img.platform })),
	}));
	return { manifest, digest: sha256(manifest), size: manifest.length };
}

// An artifact (an SBOM, a signature) whose subject is a manifest.
export function referrer(subject, artifactType, content) {
	const empty = Buffer.from('{}');
	const blob = Buffer.from(content);
	const manifest = Buffer.from(JSON.stringify({
		schemaVersion: 2,
		mediaType: MT.manifest,
		artifactType,
		config: { mediaType: MT.empty, digest: sha256(empty), size: 2 },
		layers: [{ mediaType: 'application/json', digest: sha256(blob),
			size: blob.length }],
		subject: { mediaType: subject.mediaType || MT.index,
			digest: subject.digest, size: subject.size },
		annotations: { 'org.opencontainers.image.created':
			'2024-05-01T12:00:00Z' },
	}));
	return { blobs: [empty, blob], manifest, digest: sha256(manifest) };
}

// A registry client for one base URL and optional Authorization value.
export class Client {
	constructor(url, auth) {
		this.url = url;
		this.auth = auth;
	}

	headers(extra) {
		return { ...(this.auth ? { Authorization: this.auth } : {}),
			...extra };
	}

	async blob(repo, data) {
		const d = sha256(data);
		const r = await fetch(`${this.url}/v2/${repo}/blobs/uploads/` +
			`?digest=${d}`, { method: 'POST', body: data,
			headers: this.headers({ 'Content-Type':
				'application/octet-stream' }) });
		if (r.status !== 201)
			throw new Error(`blob upload to ${repo}: ${r.status} ` +
				await r.text());
		return d;
	}

	async manifest(repo, ref, bytes, type) {
		const r = await fetch(`${this.url}/v2/${repo}/manifests/${ref}`,
			{ method: 'PUT', body: bytes,
				headers: this.headers({ 'Content-Type':
					type || MT.manifest }) });
		if (r.status !== 201)
			throw new Error(`manifest ${repo}:${ref}: ${r.status} ` +
				await r.text());
		return r.headers.get('docker-content-digest');
	}

	// Pushes an image() under each of tags (or by digest alone).
	async pushImage(repo, img, tags) {
		await this.blob(repo, img.config);
		for (const l of img.layers)
			await this.blob(repo, l);
		if (!tags || !tags.length)
			return this.manifest(repo, img.digest, img.manifest);
		for (const t of tags)
			await this.manifest(repo, t, img.manifest);
		return img.digest;
	}

	async pushIndex(repo, images, tags) {
		for (const img of images)
			await this.pushImage(repo, img, []);
		const idx = index(images);
		for (const t of tags)
			await this.manifest(repo, t, idx.manifest, MT.index);
		return idx;
	}

	async pushReferrer(repo, ref) {
		for (const b of ref.blobs)
			await this.blob(repo, b);
		return this.manifest(repo, ref.digest, ref.manifest);
	}

	async tags(repo) {
		const r = await fetch(`${this.url}/v2/${repo}/tags/list`,
			{ headers: this.headers() });
		if (r.status === 404)
			return [];
		return (await r.json()).tags || [];
	}

	async status(repo, ref) {
		const r = await fetch(`${this.url}/v2/${repo}/manifests/${ref}`,
			{ method: 'HEAD', headers: this.headers({ Accept:
				`${MT.manifest}, ${MT.index}` }) });
		return r.status;
	}
}
