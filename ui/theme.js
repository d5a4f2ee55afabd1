// theme.js - applies the saved colour theme before the page is drawn, so
// a dark theme never flashes light.  A plain script, loaded in <head>.
(function () {
	var theme = null;

	try {
		theme = window.localStorage.getItem('berth.theme');
	} catch (e) {
		// Storage may be off (privacy settings); "auto" it is.
	}
	if (theme === 'light' || theme === 'dark')
		document.documentElement.setAttribute('data-theme', theme);
})();
