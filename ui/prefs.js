// prefs.js - the settings a person chooses for themselves, kept in the
// browser (localStorage): theme, pull tool and host, page size, whether
// to offer deleting.  The server's settings (title, whether deleting is
// possible at all) always win over these.

const defaults = {
	theme: 'auto',		// auto, light or dark
	tool: 'docker',		// docker, podman or skopeo
	pullHost: '',		// '' means the server's public host
	perPage: 50,
	tagSort: 'date',	// name, version or date
	offerDelete: true,
};

function read(key) {
	try {
		return window.localStorage.getItem('berth.' + key);
	} catch (e) {
		return null;
	}
}

export function pref(key) {
	const v = read(key);

	if (v === null)
		return defaults[key];
	if (typeof defaults[key] === 'number')
		return Number(v) || defaults[key];
	if (typeof defaults[key] === 'boolean')
		return v === 'true';
	return v;
}

export function setPref(key, value) {
	try {
		window.localStorage.setItem('berth.' + key, String(value));
	} catch (e) {
		// Storage off: the choice lasts until the page is left.
	}
	if (key === 'theme')
		applyTheme();
}

export function applyTheme() {
	const theme = pref('theme');

	if (theme === 'light' || theme === 'dark')
		document.documentElement.setAttribute('data-theme', theme);
	else
		document.documentElement.removeAttribute('data-theme');
}
