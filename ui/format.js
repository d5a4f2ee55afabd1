// format.js - sizes, dates, digests and image history as people read them.

const units = ['B', 'kB', 'MB', 'GB', 'TB'];

// Decimal units, as docker prints them: 1 kB is 1000 bytes.
export function size(bytes) {
	if (bytes === null || bytes === undefined)
		return '–';
	let n = Number(bytes), i = 0;

	while (n >= 1000 && i < units.length - 1) {
		n /= 1000;
		i++;
	}
	return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) +
		' ' + units[i];
}

export function shortDigest(digest) {
	if (!digest)
		return '';
	const hex = digest.slice(digest.indexOf(':') + 1);
	return hex.slice(0, 12);
}

const rtf = new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'});
const steps = [
	['year', 365 * 86400], ['month', 30 * 86400], ['week', 7 * 86400],
	['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1],
];

// "3 days ago"; the exact time goes in a title attribute beside it.
export function ago(iso) {
	if (!iso)
		return '–';
	const secs = (Date.parse(iso) - Date.now()) / 1000;

	for (const [unit, len] of steps)
		if (Math.abs(secs) >= len || unit === 'second')
			return rtf.format(Math.round(secs / len), unit);
	return iso;
}

export function exact(iso) {
	return iso ? new Date(iso).toLocaleString() : '';
}

export function platform(p) {
	if (!p || !p.os)
		return 'unknown';
	return p.os + '/' + (p.architecture || '?') +
		(p.variant ? '/' + p.variant : '');
}

// Turns a history step's created_by into a Dockerfile-like line:
// [keyword, rest].  Classic builder steps read "/bin/sh -c #(nop)  CMD
// [...]" or "/bin/sh -c apk add ..."; BuildKit's read "RUN /bin/sh -c
// ... # buildkit" or "COPY ... # buildkit".
export function historyStep(createdBy) {
	let s = (createdBy || '').trim();

	s = s.replace(/\s*# buildkit$/, '');
	const nop = s.match(/^\/bin\/sh -c #\(nop\)\s+(.*)$/s);
	if (nop)
		s = nop[1].trim();
	else if (/^\/bin\/sh -c /.test(s))
		s = 'RUN ' + s.slice('/bin/sh -c '.length);
	else if (/^\|\d+ /.test(s))
		s = 'RUN ' + s;	// RUN with build args: "|2 A=1 B=2 /bin/sh -c ..."
	s = s.replace(/^RUN \/bin\/sh -c /, 'RUN ');

	const m = s.match(/^([A-Z]+)\s+(.*)$/s);
	if (m && m[1].length > 1)
		return [m[1], m[2]];
	return ['', s];
}
