// api.js - talking to berth: the UI's JSON API under /ui/api/ and, for
// deletes, the registry API under /v2/ with the session cookie and the
// CSRF token.  Every failure becomes an ApiError whose status says what
// happened: 0 when berth could not be reached at all.  Administrators
// also reach the storage endpoints under /admin/.

export const base = document.querySelector('meta[name="berth-base"]')
	?.getAttribute('content') || '/';

export const session = {csrf: null};

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

async function errorOf(res) {
	let code = 'UNKNOWN', message = res.statusText || 'request failed';

	try {
		const body = await res.json();
		const e = body.errors ? body.errors[0] : body;
		code = e.code || code;
		message = e.error || e.message || message;
	} catch (e) {
		// Not JSON (a proxy's page, say): keep the status text.
	}
	return new ApiError(res.status, code, message);
}

async function send(url, options) {
	let res;

	try {
		res = await fetch(url, {credentials: 'same-origin', ...options});
	} catch (e) {
		throw new ApiError(0, 'UNREACHABLE', 'cannot reach the ' +
			'registry at ' + window.location.origin);
	}
	if (!res.ok)
		throw await errorOf(res);
	return res;
}

// GET /ui/api/<path>?<params>, answering the parsed JSON.
export async function get(path, params) {
	const q = new URLSearchParams();

	for (const [k, v] of Object.entries(params || {}))
		if (v !== undefined && v !== null && v !== '')
			q.set(k, v);
	const qs = q.toString();
	const res = await send(base + 'ui/api/' + path + (qs ? '?' + qs : ''),
		{headers: {Accept: 'application/json'}});
	return res.json();
}

// POST /ui/api/<path> with a JSON body (or none).
export async function post(path, body) {
	const headers = {Accept: 'application/json'};

	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (session.csrf)
		headers['X-CSRF-Token'] = session.csrf;
	const res = await send(base + 'ui/api/' + path, {
		method: 'POST',
		headers,
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return res.status === 204 ? null : res.json();
}

// DELETE /v2/<repo>/manifests/<reference>: a tag removes the tag only, a
// digest removes the manifest and every tag pointing at it.
export async function deleteManifest(repo, reference) {
	const headers = {};

	if (session.csrf)
		headers['X-CSRF-Token'] = session.csrf;
	await send(base + 'v2/' + repo + '/manifests/' +
		encodeURIComponent(reference), {method: 'DELETE', headers});
}

// /admin/<what> (gc, scrub, usage), for administrators: GET answers the
// state, POST starts a run.  A session sends its CSRF token, as deletes
// do; berth refuses everyone but administrators.
export async function admin(method, what) {
	const headers = {Accept: 'application/json'};

	if (session.csrf)
		headers['X-CSRF-Token'] = session.csrf;
	const res = await send(base + 'admin/' + what, {method, headers});
	return res.json();
}
