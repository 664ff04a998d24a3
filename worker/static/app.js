/*
 * app.js -- coffer's web pages.
 *
 * cofferd answers every page path with the same shell (app.html); this
 * script looks at location.pathname, picks the page from the table at
 * the bottom (ROUTES) and draws it into <main> from the JSON API.  The
 * vault page (vault.js), the roster and onboarding (members.js) and the
 * billing page (billing.js) live in their own classic scripts, loaded
 * before this one; they share these helpers.  Links
 * between pages are ordinary links (full page loads): no client-side
 * history juggling beyond keeping the vault's filters in the query string.
 *
 * Rules this file keeps:
 *  - Data is only ever inserted as text (el() builds nodes, strings become
 *    text nodes); innerHTML is never used.  Together with the server's
 *    Content-Security-Policy (scripts only from /static/) that keeps any
 *    name a player chooses from becoming markup.
 *  - No inline handlers: listeners are attached here.
 *  - Every state-changing call sends X-CSRF-Token, from GET /api/v1/me's
 *    csrf_token (or the coffer_csrf cookie).
 *  - A page that needs a login asks GET /api/v1/me first; a 401 sends the
 *    browser to /login?next=<this page>.
 */
'use strict';

/* ---- DOM helpers ---- */

/*
 * el('a', {href: '/x', class: 'button', onclick: fn}, 'text', childNode, ...)
 * Attributes are set with setAttribute, on* functions become listeners,
 * strings and numbers become text nodes, null/false children are skipped,
 * arrays are flattened.
 */
function el(tag, attrs, ...children) {
	const node = document.createElement(tag);
	for (const [key, value] of Object.entries(attrs || {})) {
		if (value === null || value === undefined || value === false)
			continue;
		if (key.startsWith('on') && typeof value === 'function')
			node.addEventListener(key.slice(2), value);
		else if (value === true)
			node.setAttribute(key, '');
		else
			node.setAttribute(key, String(value));
	}
	append(node, children);
	return node;
}

/* Append children (nodes, strings, numbers or arrays of them) to node. */
function append(node, ...children) {
	for (const child of children) {
		if (child === null || child === undefined || child === false)
			continue;
		if (Array.isArray(child))
			append(node, ...child);
		else if (child instanceof Node)
			node.appendChild(child);
		else
			node.appendChild(document.createTextNode(String(child)));
	}
}

function clear(node) {
	while (node.firstChild)
		node.removeChild(node.firstChild);
	return node;
}

function replace(node, ...children) {
	clear(node);
	append(node, ...children);
	return node;
}

/* Give each cell of table's body its column's name (data-label), which
 * style.css shows when a narrow screen turns the rows into lists. */
function labelCells(table) {
	const names = Array.from(table.querySelectorAll('thead th'), (th) => th.textContent.trim());
	for (const tr of table.querySelectorAll('tbody tr'))
		Array.from(tr.children).forEach((td, i) => {
			if (names[i] && td.tagName === 'TD' && !td.hasAttribute('colspan'))
				td.setAttribute('data-label', names[i]);
		});
	return table;
}

/* ---- formatting ---- */

const NUMBER = new Intl.NumberFormat('en-US');
const RELATIVE = new Intl.RelativeTimeFormat('en', {numeric: 'auto'});

function fmtInt(n) {
	return n === null || n === undefined ? '–' : NUMBER.format(n);
}

/* 3377316 -> "3.38M": for axes and short texts. */
function fmtShort(n) {
	const abs = Math.abs(n);
	if (abs >= 1e9)
		return (n / 1e9).toFixed(2) + 'B';
	if (abs >= 1e6)
		return (n / 1e6).toFixed(2) + 'M';
	if (abs >= 1e4)
		return (n / 1e3).toFixed(1) + 'K';
	return NUMBER.format(n);
}

/* The game's way: 999, 1.2K, 3.4M, 2.1B (one decimal, cut not rounded up,
 * so a value never reads larger than it is). */
function fmtStack(n) {
	const abs = Math.abs(n);
	const cut = (x) => {
		const t = Math.trunc(x * 10) / 10;
		return (Math.abs(t) >= 100 ? Math.trunc(t) : t).toString();
	};
	if (abs >= 1e9)
		return cut(n / 1e9) + 'B';
	if (abs >= 1e6)
		return cut(n / 1e6) + 'M';
	if (abs >= 1e3)
		return cut(n / 1e3) + 'K';
	return String(n);
}

/* The game's colour of a stack: yellow below 100K, white to 10M, green
 * from 10M, and a fourth for 10B (style.css .tier-*). */
function tier(n) {
	if (n >= 1e10)
		return 'tier-b';
	if (n >= 1e7)
		return 'tier-m';
	if (n >= 1e5)
		return 'tier-k';
	return 'tier-y';
}

/* A value in gp, short and coloured, the exact figure on hover. */
function gpValue(n, withUnit) {
	if (n === null || n === undefined)
		return el('span', {class: 'muted'}, '–');
	return el('span', {class: 'gp ' + tier(n), title: NUMBER.format(n) + ' gp',
		'data-exact': n}, fmtStack(n) + (withUnit ? ' gp' : ''));
}

/* A quantity: exact below 100K, then short, the exact figure on hover. */
function stackQty(n) {
	return n < 1e5 ? el('span', {}, NUMBER.format(n))
		: el('span', {title: NUMBER.format(n)}, fmtStack(n));
}

function fmtGp(n) {
	return n === null || n === undefined ? '–' : fmtShort(n) + ' gp';
}

/* "5 minutes ago" for a Date. */
function relText(t) {
	const secs = (t.getTime() - Date.now()) / 1000;
	const units = [['year', 31536000], ['month', 2592000], ['week', 604800],
		['day', 86400], ['hour', 3600], ['minute', 60]];
	for (const [unit, size] of units)
		if (Math.abs(secs) >= size)
			return RELATIVE.format(Math.round(secs / size), unit);
	return 'just now';
}

/* "5 minutes ago", with the full local time as a tooltip; it keeps
 * ticking (the interval below). */
function fmtTime(iso) {
	if (!iso)
		return el('span', {class: 'muted'}, 'never');
	const t = new Date(iso);
	if (isNaN(t))
		return el('span', {}, String(iso));
	return el('time', {datetime: iso, title: t.toLocaleString(), class: 'rel'}, relText(t));
}

/* Relative times on the page tick every 20 s. */
setInterval(() => {
	for (const node of document.querySelectorAll('time.rel')) {
		const text = relText(new Date(node.getAttribute('datetime')));
		if (node.textContent !== text)
			node.textContent = text;
	}
}, 20000);

function capitalize(s) {
	return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/* ---- the API ---- */

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

/* Thrown to stop drawing a page after the browser has been sent away. */
class Redirected extends Error {}

let csrfToken = null;

function cookie(name) {
	for (const part of document.cookie.split(';')) {
		const [k, ...v] = part.trim().split('=');
		if (k === name)
			return decodeURIComponent(v.join('='));
	}
	return null;
}

/* fetch() a JSON route; resolves to the parsed body (null for 204),
 * rejects with ApiError carrying the API's error code and message. */
async function api(method, path, body) {
	const headers = {Accept: 'application/json'};
	const opts = {method, headers, credentials: 'same-origin'};
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		opts.body = JSON.stringify(body);
	}
	if (method !== 'GET') {
		const token = csrfToken || cookie('coffer_csrf');
		if (token)
			headers['X-CSRF-Token'] = token;
	}
	let res;
	try {
		res = await fetch(path, opts);
	} catch (e) {
		throw new ApiError(0, 'network', 'cannot reach the server');
	}
	if (res.status === 204)
		return null;
	let data = null;
	try {
		data = await res.json();
	} catch (e) {
		data = null;
	}
	if (!res.ok) {
		const err = (data && data.error) || {};
		throw new ApiError(res.status, err.code || '', err.message || res.statusText);
	}
	return data;
}

/* The logged-in user, or null (never throws on 401). */
async function currentUser() {
	try {
		const me = await api('GET', '/api/v1/me');
		if (me.csrf_token)
			csrfToken = me.csrf_token;
		return me;
	} catch (e) {
		if (e.status === 401)
			return null;
		throw e;
	}
}

function toLogin() {
	const next = location.pathname + location.search;
	location.replace('/login?next=' + encodeURIComponent(next));
	throw new Redirected();
}

/* The caller's characters for the pickers: GET /api/v1/sync/characters,
 * or null when this session may not list them. */
async function myCharacters() {
	try {
		const data = await api('GET', '/api/v1/sync/characters');
		return data.characters || [];
	} catch (e) {
		return null;
	}
}

/* ---- shared page parts ---- */

function setTitle(text) {
	document.title = text ? text + ' · coffer' : 'coffer';
}

function drawNav(me) {
	const nav = document.getElementById('nav');
	const here = location.pathname;
	const link = (href, text) => el('a', {href, class: here === href ? 'current' : null}, text);
	if (!me) {
		replace(nav, link('/login', 'Log in'));
		return;
	}
	const logout = el('button', {class: 'link', type: 'button'}, 'Log out');
	logout.addEventListener('click', async () => {
		logout.disabled = true;
		try {
			await api('POST', '/auth/logout');
		} catch (e) {
			/* the session is gone either way */
		}
		location.assign('/');
	});
	replace(nav, link('/app', 'Groups'), link('/app/account', 'Account'),
		link('/app/billing', 'Billing'),
		el('span', {class: 'who'}, me.display_name), logout);
}

function errorText(e) {
	if (e instanceof ApiError)
		return e.message || 'something went wrong';
	return 'something went wrong';
}

function errorNotice(e) {
	return el('p', {class: 'notice error', role: 'alert'}, capitalize(errorText(e)) + '.');
}

/* A form's submit handler with a busy button and an inline message:
 * fn(form) may return a success message, or throw ApiError. */
function onSubmit(form, msg, fn) {
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const buttons = form.querySelectorAll('button');
		buttons.forEach((b) => { b.disabled = true; });
		replace(msg);
		msg.className = 'small';
		try {
			const ok = await fn(form);
			if (ok) {
				msg.className = 'small ok';
				replace(msg, ok);
			}
		} catch (e) {
			if (e instanceof Redirected)
				return;
			msg.className = 'small error';
			replace(msg, capitalize(errorText(e)) + '.');
		} finally {
			buttons.forEach((b) => { b.disabled = false; });
		}
	});
}

/* A button that runs fn, disabled while it runs; errors go to msg. */
function actionButton(text, cls, msg, fn) {
	const b = el('button', {type: 'button', class: cls}, text);
	b.addEventListener('click', async () => {
		b.disabled = true;
		try {
			await fn();
		} catch (e) {
			if (msg) {
				msg.className = 'small error';
				replace(msg, capitalize(errorText(e)) + '.');
			}
		} finally {
			b.disabled = false;
		}
	});
	return b;
}

/* Checkboxes for choosing characters; .value() gives the names checked. */
function characterPicker(chars, checked) {
	const box = el('div', {class: 'checks'});
	if (chars === null || chars.length === 0) {
		append(box, el('span', {class: 'muted small'},
			'No characters yet: they appear once the plugin has synced them. ' +
			'You can share them with the group later, from its settings.'));
	} else {
		for (const c of chars) {
			const input = el('input', {type: 'checkbox', value: c.name,
				checked: checked ? checked.has(c.name) : true});
			append(box, el('label', {}, input, c.name));
		}
	}
	box.value = () => Array.from(box.querySelectorAll('input:checked'), (i) => i.value);
	return box;
}

function roleBadge(role) {
	return el('span', {class: 'badge ' + role}, role);
}

/* Group header: name, role and the tabs of the group pages. */
function groupHeader(g, current) {
	const base = '/app/groups/' + g.id;
	const tab = (href, text) => el('a', {href, class: current === href ? 'current' : null}, text);
	return [
		el('div', {class: 'head'},
			el('h1', {}, g.name, ' ', roleBadge(g.role)),
			el('span', {id: 'live-status', class: 'small live muted', role: 'status'}),
			el('a', {href: '/app', class: 'small'}, '← All groups')),
		el('nav', {class: 'tabs', 'aria-label': 'Group'},
			tab(base, 'Vault'), tab(base + '/activity', 'Activity'),
			tab(base + '/settings', 'Settings')),
	];
}

/* GET the group, or draw "not found" and return null. */
async function loadGroup(main, id) {
	try {
		return await api('GET', '/api/v1/groups/' + encodeURIComponent(id));
	} catch (e) {
		if (e.status !== 404)
			throw e;
		setTitle('Group not found');
		replace(main, el('h1', {}, 'Group not found'),
			el('p', {}, 'There is no such group, or you are not a member of it.'),
			el('a', {href: '/app', class: 'button'}, 'Your groups'));
		return null;
	}
}

/*
 * Live updates (docs/API.md "Live events"): an EventSource on the group's
 * events.  handlers[name](data) runs for each event of that name (the
 * parsed data); handlers.refresh, if given, after a lost stream is back,
 * since events sent meanwhile were missed.  The browser reconnects by
 * itself after a network error (and sends Last-Event-ID, which replays the
 * activity missed); a stream the server refused or ended for good is
 * opened again here, after 1, 2, 4 … 30 s.  A status line in the group
 * header says whether the page is live or reconnecting.
 */
function liveEvents(id, handlers) {
	if (!window.EventSource)
		return;
	const badge = document.getElementById('live-status');
	let source = null;
	let delay = 1000;
	let retry = null;
	let lost = false;
	const show = (text, cls) => {
		if (!badge)
			return;
		badge.className = 'small live ' + cls;
		replace(badge, text);
	};
	function open() {
		retry = null;
		source = new EventSource('/api/v1/groups/' + encodeURIComponent(id) + '/events');
		source.addEventListener('open', () => {
			delay = 1000;
			show('● Live', 'ok');
			if (lost && handlers.refresh)
				handlers.refresh();
			lost = false;
		});
		source.addEventListener('error', () => {
			lost = true;
			show('Reconnecting…', 'muted');
			if (source.readyState !== EventSource.CLOSED)
				return;		/* the browser retries by itself */
			source = null;
			retry = setTimeout(open, delay);
			delay = Math.min(delay * 2, 30000);
		});
		for (const [name, fn] of Object.entries(handlers)) {
			if (name === 'refresh')
				continue;
			source.addEventListener(name, (e) => {
				let data = null;
				try {
					data = JSON.parse(e.data);
				} catch (err) {
					return;
				}
				fn(data);
			});
		}
	}
	open();
	window.addEventListener('pagehide', () => {
		clearTimeout(retry);
		if (source)
			source.close();
	});
}

/* Call fn at most once per wait ms, the last call winning: a burst of
 * events costs one reload. */
function debounce(fn, wait) {
	let timer = null;
	return () => {
		clearTimeout(timer);
		timer = setTimeout(fn, wait);
	};
}

/* ---- pages ---- */

function pageLanding(main, me) {
	setTitle('');
	const cta = me
		? el('a', {href: '/app', class: 'button'}, 'Open your groups')
		: el('a', {href: '/login', class: 'button'}, 'Log in');
	replace(main,
		el('section', {class: 'hero'},
			el('h1', {}, 'Your group\'s vault, live.'),
			el('p', {}, 'coffer adds up what everyone in your group holds — banks, ' +
				'inventories, equipment, storage — and values it from the item ' +
				'catalog. The game-client plugin keeps it in sync while you play.'),
			el('p', {class: 'actions'}, cta)),
		el('div', {class: 'grid'},
			el('div', {class: 'card'}, el('h2', {}, '1. Log in'),
				el('p', {}, 'Sign in and create a plugin token on your account page.')),
			el('div', {class: 'card'}, el('h2', {}, '2. Sync'),
				el('p', {}, 'Paste the token into the plugin; your characters\' ' +
					'containers sync every few seconds of play.')),
			el('div', {class: 'card'}, el('h2', {}, '3. Share'),
				el('p', {}, 'Create a group or join one with a code, and see the ' +
					'vault, the roster and the activity feed.'))));
}

/* next=... from the query, if it is a same-site path; else /app. */
function nextPath() {
	const next = new URLSearchParams(location.search).get('next');
	if (next && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\'))
		return next;
	return '/app';
}

async function pageLogin(main, me) {
	setTitle('Log in');
	const next = nextPath();
	const body = el('div', {class: 'card'});
	replace(main, el('h1', {}, 'Log in'), body);
	if (me) {
		append(body, el('p', {}, 'You are logged in as ', el('strong', {}, me.display_name), '.'),
			el('a', {href: next, class: 'button'}, 'Continue'));
		return;
	}
	const data = await api('GET', '/auth/providers');
	const providers = data.providers || [];
	if (providers.length === 0) {
		append(body, el('p', {class: 'muted'}, 'No login provider is configured.'));
		return;
	}
	for (const p of providers) {
		if (p.name === 'mock') {
			const input = el('input', {type: 'text', id: 'login-name', name: 'login',
				required: true, maxlength: 64, autocomplete: 'username',
				placeholder: 'alice'});
			const msg = el('span', {class: 'small'});
			const form = el('form', {class: 'inline', id: 'mock-login'},
				el('div', {}, el('label', {for: 'login-name'}, 'Login name'), input),
				el('button', {type: 'submit'}, 'Log in'), msg);
			form.addEventListener('submit', (ev) => {
				ev.preventDefault();
				const name = input.value.trim();
				if (!name)
					return;
				const q = new URLSearchParams({login_hint: name, name, next});
				location.assign('/auth/login/mock?' + q.toString());
			});
			append(body, el('h2', {}, 'Development login'),
				el('p', {class: 'muted small'}, 'The built-in mock provider logs you in ' +
					'as whoever you name (the demo has alice, bob and carol).'),
				form);
		} else {
			const href = (p.login_url || '/auth/login/' + encodeURIComponent(p.name)) +
				'?next=' + encodeURIComponent(next);
			append(body, el('p', {}, el('a', {href, class: 'button'},
				'Log in with ' + capitalize(p.name))));
		}
	}
}

async function pageGroups(main, me) {
	setTitle('Your groups');
	const [data, chars] = await Promise.all([api('GET', '/api/v1/groups'), myCharacters()]);
	const groups = data.groups || [];
	let list;
	if (groups.length === 0) {
		list = el('div', {class: 'onboarding-lite', id: 'no-groups'},
			el('h2', {}, 'Welcome to coffer'),
			el('ol', {class: 'steps'},
				el('li', {}, el('strong', {}, 'Create or join a group'), ' below: your ' +
					'group-ironman team shares one vault.'),
				el('li', {}, el('strong', {}, 'Create a plugin token'), ' on ',
					el('a', {href: '/app/account'}, 'your account'), '.'),
				el('li', {}, el('strong', {}, 'In the plugin'), ', set the server URL to ',
					el('code', {}, location.origin), ' and paste the token. Your bank, ' +
					'inventory and gear sync as you play.')));
	} else {
		/* Each group's value and last sync (GET /groups/{id}), filled in
		 * as they come; a group that fails just keeps its dash. */
		const value = new Map(), synced = new Map();
		list = el('div', {class: 'scroll'}, labelCells(el('table', {class: 'table', id: 'groups'},
			el('thead', {}, el('tr', {}, el('th', {}, 'Group'), el('th', {}, 'Your role'),
				el('th', {class: 'num'}, 'Members'), el('th', {class: 'num'}, 'Value'),
				el('th', {}, 'Last sync'))),
			el('tbody', {}, groups.map((g) => el('tr', {},
				el('td', {}, el('a', {href: '/app/groups/' + g.id}, g.name)),
				el('td', {}, roleBadge(g.role)),
				el('td', {class: 'num'}, fmtInt(g.member_count)),
				el('td', {class: 'num'}, value.set(g.id, el('span', {}, '–')).get(g.id)),
				el('td', {}, synced.set(g.id, el('span', {}, '–')).get(g.id))))))));
		for (const g of groups)
			api('GET', '/api/v1/groups/' + g.id).then((d) => {
				replace(value.get(g.id), gpValue(d.total_value, true));
				replace(synced.get(g.id), fmtTime(d.last_sync_at));
			}).catch(() => {});
	}

	const name = el('input', {type: 'text', id: 'group-name', required: true,
		maxlength: 64, placeholder: 'My clan'});
	const createChars = characterPicker(chars);
	const createMsg = el('p', {class: 'small'});
	const create = el('form', {id: 'create-group'},
		el('div', {class: 'field'}, el('label', {for: 'group-name'}, 'Name'), name),
		el('label', {}, 'Characters to share'), createChars,
		el('button', {type: 'submit'}, 'Create group'), createMsg);
	onSubmit(create, createMsg, async () => {
		const g = await api('POST', '/api/v1/groups',
			{name: name.value.trim(), characters: createChars.value()});
		location.assign('/app/groups/' + g.id);
	});

	const code = el('input', {type: 'text', id: 'join-code', required: true,
		maxlength: 64, autocomplete: 'off'});
	const joinChars = characterPicker(chars);
	const joinMsg = el('p', {class: 'small'});
	const join = el('form', {id: 'join-group'},
		el('div', {class: 'field'}, el('label', {for: 'join-code'}, 'Join code'), code),
		el('label', {}, 'Characters to share'), joinChars,
		el('button', {type: 'submit'}, 'Join group'), joinMsg);
	onSubmit(join, joinMsg, () => joinGroup(code.value.trim(), joinChars.value()));

	replace(main, el('h1', {}, 'Your groups'),
		el('div', {class: 'card'}, list),
		el('div', {class: 'grid'},
			el('div', {class: 'card'}, el('h2', {}, 'Create a group'), create),
			el('div', {class: 'card'}, el('h2', {}, 'Join a group'), join)));
}

/* POST /api/v1/groups/join and go to the group; errors in plain words. */
async function joinGroup(code, characters) {
	try {
		const g = await api('POST', '/api/v1/groups/join', {code, characters});
		location.assign('/app/groups/' + g.id);
	} catch (e) {
		if (e.status === 404)
			throw new ApiError(404, e.code, 'no group has this join code');
		if (e.status === 409)
			throw new ApiError(409, e.code, 'you are already a member of this group');
		throw e;
	}
}

const CONTAINERS = ['inventory', 'equipment', 'bank', 'group_storage', 'seed_vault',
	'rune_pouch', 'quiver', 'looting_bag', 'potion_storage'];

function containerName(c) {
	return capitalize(c.replace(/_/g, ' '));
}

/* "Zezima: bank 1, inventory 2 · Woox: bank 5" */
function holdersText(holders) {
	const by = new Map();
	for (const h of holders || []) {
		if (!by.has(h.character))
			by.set(h.character, []);
		by.get(h.character).push(containerName(h.container).toLowerCase() + ' ' + fmtInt(h.qty));
	}
	return Array.from(by, ([who, where]) => who + ': ' + where.join(', ')).join(' · ');
}

/* "Abyssal whip ×1, Coins ×1,000 and 3 more" */
function itemsText(list, count) {
	const names = (list || []).slice(0, 5).map((it) =>
		itemLabel(it) + ' ×' + fmtInt(it.qty || 1));
	const rest = (count || (list || []).length) - names.length;
	return names.join(', ') + (rest > 0 ? ' and ' + fmtInt(rest) + ' more' : '');
}

/* An item's name from the entry, else from the vault page's items, else
 * "Unknown item" (never an internal id). */
function itemLabel(it) {
	if (it.name)
		return it.name;
	const known = window.vaultNames && window.vaultNames.get(it.id);
	return known && known.name ? known.name : 'Unknown item';
}

/* The value of a plugin event's items: theirs, or qty × the vault's price. */
function itemsValue(list) {
	let total = 0, known = false;
	for (const it of list || []) {
		if (typeof it.value === 'number') {
			total += it.value;
			known = true;
		} else if (typeof it.price === 'number') {
			total += it.price * (it.qty || 1);
			known = true;
		}
	}
	return known ? total : null;
}

const ACTIVITY_KINDS = [['', 'All events'], ['items', 'Items'], ['loot', 'Loot'],
	['level_up', 'Level-ups'], ['quest', 'Quests'], ['death', 'Deaths'], ['other', 'Other']];

function activityKind(a) {
	return ACTIVITY_KINDS.some(([k]) => k && k !== 'other' && k === a.kind) ? a.kind : 'other';
}

/* One activity entry (GET …/activity: {kind, character, data}) as nodes:
 * "items" (a sync's gains and losses), "level_up", loot, quests, deaths,
 * or any other plugin event. */
function activityText(a) {
	const who = el('strong', {}, a.character || 'Someone');
	const data = a.data || {};
	if (a.kind === 'items') {
		const parts = [];
		if (data.gained_count)
			parts.push(['gained ' + itemsText(data.gained, data.gained_count) + ' (',
				gpValue(data.gained_value, true), ')']);
		if (data.lost_count)
			parts.push(['lost ' + itemsText(data.lost, data.lost_count) + ' (',
				gpValue(data.lost_value, true), ')']);
		const where = data.container ? ' (' + containerName(data.container).toLowerCase() + ') ' : ' ';
		return [who, where, parts.length ? parts.flatMap((p, i) => i ? ['; ', p] : [p])
			: 'changed nothing'];
	}
	if (a.kind === 'level_up')
		return [who, ' reached level ' + data.level + ' in ' + capitalize(data.skill || '')];
	if (a.kind === 'loot') {
		const value = itemsValue(data.items);
		return [who, ' received loot' + (data.source ? ' from ' + data.source : ''),
			data.items && data.items.length ? ': ' + itemsText(data.items) : '',
			value !== null ? [' (', gpValue(value, true), ')'] : ''];
	}
	if (a.kind === 'quest')
		return [who, ' completed ', data.quest || data.name || 'a quest'];
	if (a.kind === 'death')
		return [who, ' died', data.location ? ' at ' + data.location : '',
			data.killer || data.source ? ' to ' + (data.killer || data.source) : ''];
	const details = Object.entries(data)
		.filter(([, v]) => typeof v === 'string' || typeof v === 'number')
		.slice(0, 6).map(([k, v]) => k.replace(/_/g, ' ') + ': ' + v);
	return [who, ': ' + capitalize(String(a.kind || 'event').replace(/_/g, ' ')) +
		(details.length ? ' — ' + details.join(', ') : '')];
}

const KIND_MARK = {items: '⇄', loot: '★', level_up: '▲', quest: '✔', death: '☠', other: '•'};

async function pageActivity(main, me, id) {
	const g = await loadGroup(main, id);
	if (!g)
		return;
	setTitle('Activity · ' + g.name);
	const gpath = '/api/v1/groups/' + encodeURIComponent(id);
	const params = new URLSearchParams(location.search);
	const filter = {who: params.get('character') || '', kind: params.get('kind') || ''};
	const list = el('ul', {class: 'plain feed', id: 'activity'});
	const status = el('p', {class: 'muted small', id: 'activity-status'});
	const more = el('button', {type: 'button', class: 'secondary', hidden: true}, 'Load more');
	const who = el('select', {id: 'activity-who', 'aria-label': 'Member'},
		el('option', {value: ''}, 'Everyone'));
	const kind = el('select', {id: 'activity-kind', 'aria-label': 'Type'},
		ACTIVITY_KINDS.map(([k, text]) => el('option', {value: k, selected: k === filter.kind}, text)));
	let cursor = null;
	let entries = [];

	const shown = new Set();	/* entry ids loaded */
	const matches = (a) => (!filter.who || (a.character || '') === filter.who) &&
		(!filter.kind || activityKind(a) === filter.kind);
	const entry = (a) => el('li', {'data-id': a.id, 'data-kind': activityKind(a),
		class: 'entry kind-' + activityKind(a)},
	el('span', {class: 'mark', 'aria-hidden': 'true'}, KIND_MARK[activityKind(a)]),
	el('div', {}, el('div', {}, activityText(a)),
		el('div', {class: 'small muted'}, fmtTime(a.created_at))));

	function draw() {
		const q = new URLSearchParams();
		if (filter.who)
			q.set('character', filter.who);
		if (filter.kind)
			q.set('kind', filter.kind);
		history.replaceState(null, '', location.pathname + (q.toString() ? '?' + q : ''));
		const visible = entries.filter(matches);
		replace(list, visible.map(entry));
		replace(status, entries.length === 0 ? 'Nothing has happened yet: activity appears as ' +
			'members sync, loot, level up and quest.' : visible.length === 0
			? 'Nothing matches these filters' + (cursor ? ' yet: load more to look further back.' : '.')
			: '');
	}

	async function load(appendRows) {
		const q = new URLSearchParams({limit: '100'});
		if (appendRows && cursor)
			q.set('cursor', cursor);
		const data = await api('GET', gpath + '/activity?' + q);
		if (!appendRows) {
			entries = [];
			shown.clear();
		}
		for (const a of data.activity || [])
			if (!shown.has(a.id)) {
				shown.add(a.id);
				entries.push(a);
			}
		cursor = data.next_cursor || null;
		more.hidden = !cursor;
		draw();
	}
	more.addEventListener('click', async () => {
		more.disabled = true;
		try {
			await load(true);
		} catch (e) {
			replace(status, errorNotice(e));
		}
		more.disabled = false;
	});
	who.addEventListener('change', () => { filter.who = who.value; draw(); });
	kind.addEventListener('change', () => { filter.kind = kind.value; draw(); });
	replace(main, groupHeader(g, location.pathname),
		el('section', {class: 'card'},
			el('div', {class: 'toolbar'}, who, kind),
			list, status, el('div', {class: 'more'}, more)));
	const [roster] = await Promise.all([
		api('GET', gpath + '/roster').catch(() => ({members: []})),
		load(false).catch((e) => replace(status, errorNotice(e))),
	]);
	const names = (roster.members || []).flatMap((m) => (m.characters || []).map((c) => c.name));
	append(who, names.map((n) => el('option', {value: n, selected: n === filter.who}, n)));
	/* A live entry goes on top, once (a replay may repeat one). */
	liveEvents(id, {
		activity: (a) => {
			if (!a || shown.has(a.id))
				return;
			shown.add(a.id);
			entries.unshift(a);
			draw();
		},
		refresh: () => load(false).catch(() => {}),
	});
}

async function pageSettings(main, me, id) {
	const g = await loadGroup(main, id);
	if (!g)
		return;
	setTitle('Settings · ' + g.name);
	const gpath = '/api/v1/groups/' + encodeURIComponent(id);
	const manager = g.role === 'owner' || g.role === 'admin';
	const sections = [];

	if (manager) {
		const name = el('input', {type: 'text', id: 'rename', required: true, maxlength: 64,
			value: g.name});
		const msg = el('span', {class: 'small'});
		const form = el('form', {class: 'inline'},
			el('div', {}, el('label', {for: 'rename'}, 'Group name'), name),
			el('button', {type: 'submit'}, 'Rename'), msg);
		onSubmit(form, msg, async () => {
			await api('PATCH', gpath, {name: name.value.trim()});
			return 'Renamed.';
		});
		sections.push(el('section', {class: 'card'}, el('h2', {}, 'Name'), form));

		const codeBox = el('code', {class: 'secret', id: 'join-code'});
		const link = el('p', {class: 'small'});
		const codeMsg = el('p', {class: 'small'});
		const showCode = (code) => {
			replace(codeBox, code || '–');
			const url = location.origin + '/join/' + encodeURIComponent(code || '');
			replace(link, 'Invite link: ', el('a', {href: url}, url));
		};
		showCode(g.join_code);
		const copy = actionButton('Copy link', 'secondary', codeMsg, async () => {
			await navigator.clipboard.writeText(location.origin + '/join/' +
				encodeURIComponent(codeBox.textContent));
			codeMsg.className = 'small ok';
			replace(codeMsg, 'Copied.');
		});
		const rotate = actionButton('New code', 'secondary', codeMsg, async () => {
			const r = await api('POST', gpath + '/join-code/rotate');
			showCode(r.join_code || r.code);
			codeMsg.className = 'small ok';
			replace(codeMsg, 'The old code no longer works.');
		});
		sections.push(el('section', {class: 'card'}, el('h2', {}, 'Join code'),
			el('p', {class: 'muted small'}, 'Anyone with this code can join the group.'),
			codeBox, link, el('div', {class: 'actions'}, copy, rotate), codeMsg));
	}

	const membersBody = el('tbody');
	const membersMsg = el('p', {class: 'small'});
	async function loadMembers() {
		const data = await api('GET', gpath + '/roster');
		replace(membersBody, (data.members || []).map((m) => memberRow(m)));
		if (membersBody.parentNode)
			labelCells(membersBody.parentNode);
	}
	function memberRow(m) {
		const self = m.user_id === me.id;
		const cells = [el('td', {}, m.display_name, self ? el('span', {class: 'muted'}, ' (you)') : null),
			el('td', {}, g.role === 'owner' && m.role !== 'owner' ? roleSelect(m) : roleBadge(m.role)),
			el('td', {class: 'small'}, (m.characters || []).map((c) => c.name).join(', ') || '–'),
			el('td', {}, fmtTime(m.joined_at))];
		const actions = el('div', {class: 'actions'});
		const canRemove = !self && m.role !== 'owner' &&
			(g.role === 'owner' || (g.role === 'admin' && m.role === 'member'));
		if (canRemove)
			append(actions, actionButton('Remove', 'danger', membersMsg, async () => {
				if (!confirm('Remove ' + m.display_name + ' from the group?'))
					return;
				await api('DELETE', gpath + '/members/' + m.user_id);
				await loadMembers();
			}));
		if (g.role === 'owner' && !self)
			append(actions, actionButton('Make owner', 'secondary', membersMsg, async () => {
				if (!confirm('Transfer ownership to ' + m.display_name + '?'))
					return;
				await api('POST', gpath + '/transfer', {user_id: m.user_id});
				location.reload();
			}));
		cells.push(el('td', {}, actions));
		return el('tr', {}, cells);
	}
	function roleSelect(m) {
		const s = el('select', {'aria-label': 'Role of ' + m.display_name},
			['admin', 'member'].map((r) => el('option', {value: r, selected: r === m.role}, r)));
		s.addEventListener('change', async () => {
			s.disabled = true;
			try {
				await api('PATCH', gpath + '/members/' + m.user_id, {role: s.value});
				membersMsg.className = 'small ok';
				replace(membersMsg, m.display_name + ' is now ' + s.value + '.');
			} catch (e) {
				membersMsg.className = 'small error';
				replace(membersMsg, capitalize(errorText(e)) + '.');
			}
			s.disabled = false;
		});
		return s;
	}
	sections.push(el('section', {class: 'card'}, el('h2', {}, 'Members'),
		el('div', {class: 'scroll'}, el('table', {class: 'table', id: 'members'},
			el('thead', {}, el('tr', {}, el('th', {}, 'Member'), el('th', {}, 'Role'),
				el('th', {}, 'Characters'), el('th', {}, 'Joined'), el('th', {}, ''))),
			membersBody)), membersMsg));

	const chars = await myCharacters();
	if (chars && chars.length > 0) {
		const roster = await api('GET', gpath + '/roster').catch(() => ({members: []}));
		const mine = (roster.members || []).find((m) => m.user_id === me.id);
		const picker = characterPicker(chars, new Set(((mine && mine.characters) || []).map((c) => c.name)));
		const msg = el('span', {class: 'small'});
		const form = el('form', {}, picker, el('button', {type: 'submit'}, 'Save'), ' ', msg);
		onSubmit(form, msg, async () => {
			await api('PUT', gpath + '/members/me', {characters: picker.value()});
			await loadMembers();
			return 'Saved.';
		});
		sections.push(el('section', {class: 'card'}, el('h2', {}, 'Your characters in this group'),
			form));
	}

	const leaveMsg = el('p', {class: 'small'});
	const leave = g.role === 'owner'
		? actionButton('Delete group', 'danger', leaveMsg, async () => {
			if (!confirm('Delete ' + g.name + ' for every member? This cannot be undone.'))
				return;
			await api('DELETE', gpath);
			location.assign('/app');
		})
		: actionButton('Leave group', 'danger', leaveMsg, async () => {
			if (!confirm('Leave ' + g.name + '?'))
				return;
			await api('POST', gpath + '/leave');
			location.assign('/app');
		});
	sections.push(el('section', {class: 'card'}, el('h2', {}, g.role === 'owner' ? 'Delete' : 'Leave'),
		g.role === 'owner' ? el('p', {class: 'muted small'},
			'To leave a group you own, make another member owner first.') : null,
		leave, leaveMsg));

	replace(main, groupHeader(g, location.pathname), sections);
	const refresh = () => loadMembers().catch((e) => replace(membersMsg, errorNotice(e)));
	await refresh();
	liveEvents(id, {roster: debounce(refresh, 300), refresh});
}

/* "Chrome on Linux" from a User-Agent header (the full text is a tooltip). */
function browserName(ua) {
	if (!ua)
		return 'Unknown browser';
	const browsers = [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'],
		['Safari/', 'Safari'], ['curl/', 'curl']];
	const systems = [['Android', 'Android'], ['iPhone', 'iOS'], ['iPad', 'iOS'],
		['Windows', 'Windows'], ['Mac OS X', 'macOS'], ['Linux', 'Linux']];
	const b = browsers.find(([key]) => ua.includes(key));
	const o = systems.find(([key]) => ua.includes(key));
	const name = b ? b[1] : ua.split(/[\s/]/)[0] || 'Unknown browser';
	return o ? name + ' on ' + o[1] : name;
}

async function pageAccount(main, me) {
	setTitle('Account');

	/* display name */
	const dname = el('input', {type: 'text', id: 'display-name', required: true, maxlength: 64,
		value: me.display_name});
	const nameMsg = el('span', {class: 'small'});
	const nameForm = el('form', {class: 'inline'},
		el('div', {}, el('label', {for: 'display-name'}, 'Display name'), dname),
		el('button', {type: 'submit'}, 'Save'), nameMsg);
	onSubmit(nameForm, nameMsg, async () => {
		const u = await api('PATCH', '/api/v1/me', {display_name: dname.value.trim()});
		drawNav(Object.assign({}, me, u));
		return 'Saved.';
	});

	/* plugin tokens */
	const tokensBody = el('tbody');
	const tokensMsg = el('p', {class: 'small'});
	const created = el('div', {id: 'new-token'});
	async function loadTokens() {
		const data = await api('GET', '/api/v1/me/tokens');
		const tokens = data.tokens || [];
		if (tokens.length === 0) {
			replace(tokensBody, el('tr', {}, el('td', {colspan: 4, class: 'muted'}, 'No tokens yet.')));
			return;
		}
		replace(tokensBody, tokens.map((t) => el('tr', {},
			el('td', {}, t.label),
			el('td', {}, fmtTime(t.created_at)),
			el('td', {}, fmtTime(t.last_used_at)),
			el('td', {}, actionButton('Revoke', 'danger', tokensMsg, async () => {
				if (!confirm('Revoke "' + t.label + '"? The plugin using it stops syncing.'))
					return;
				await api('DELETE', '/api/v1/me/tokens/' + t.id);
				await loadTokens();
			})))));
		if (tokensBody.parentNode)
			labelCells(tokensBody.parentNode);
	}
	const label = el('input', {type: 'text', id: 'token-label', required: true, maxlength: 64,
		placeholder: 'My laptop'});
	const tokenForm = el('form', {class: 'inline'},
		el('div', {}, el('label', {for: 'token-label'}, 'Label'), label),
		el('button', {type: 'submit'}, 'Create token'));
	onSubmit(tokenForm, tokensMsg, async () => {
		const t = await api('POST', '/api/v1/me/tokens', {label: label.value.trim()});
		label.value = '';
		const box = el('code', {class: 'secret'}, t.token);
		const msg = el('span', {class: 'small'});
		const copy = actionButton('Copy', 'secondary', msg, async () => {
			await navigator.clipboard.writeText(t.token);
			msg.className = 'small ok';
			replace(msg, ' Copied.');
		});
		replace(created, el('div', {class: 'notice'},
			el('strong', {}, 'Your new token "' + t.label + '"'),
			el('p', {class: 'small'}, 'Copy it into the plugin now: it is shown only this once.'),
			box, copy, msg));
		await loadTokens();
		return null;
	});

	/* sessions */
	const sessionsBody = el('tbody');
	const sessionsMsg = el('p', {class: 'small'});
	async function loadSessions() {
		const data = await api('GET', '/api/v1/me/sessions');
		replace(sessionsBody, (data.sessions || []).map((s) => el('tr', {},
			el('td', {title: s.user_agent || null}, browserName(s.user_agent),
				s.current ? el('span', {class: 'badge'}, 'this browser') : null),
			el('td', {}, fmtTime(s.created_at)),
			el('td', {}, fmtTime(s.last_seen_at)),
			el('td', {}, actionButton(s.current ? 'Log out' : 'End', 'danger', sessionsMsg,
				async () => {
					await api('DELETE', '/api/v1/me/sessions/' + s.id);
					if (s.current)
						location.assign('/');
					else
						await loadSessions();
				})))));
		if (sessionsBody.parentNode)
			labelCells(sessionsBody.parentNode);
	}

	/* characters */
	const charsBox = el('div');
	const chars = await myCharacters();
	if (chars === null || chars.length === 0)
		append(charsBox, el('p', {class: 'muted'}, 'No characters yet: they appear here once ' +
			'the plugin has synced them with one of your tokens.'));
	else
		append(charsBox, labelCells(el('table', {class: 'table', id: 'characters'},
			el('thead', {}, el('tr', {}, el('th', {}, 'Character'), el('th', {}, 'Linked'),
				el('th', {}, 'Last sync'))),
			el('tbody', {}, chars.map((c) => el('tr', {}, el('td', {}, c.name),
				el('td', {}, fmtTime(c.created_at)), el('td', {}, fmtTime(c.last_sync_at))))))));

	/* deleting the account */
	const delMsg = el('p', {class: 'small'});
	const del = actionButton('Delete my account', 'danger', delMsg, async () => {
		if (!confirm('Delete your account, your characters and the groups only you manage? ' +
			'This cannot be undone.'))
			return;
		await api('DELETE', '/api/v1/me');
		location.assign('/');
	});

	replace(main, el('h1', {}, 'Account'),
		el('section', {class: 'card'}, el('h2', {}, 'Profile'),
			el('p', {class: 'muted small'}, 'Logged in as ', el('code', {}, me.login),
				' · plan: ', me.plan), nameForm),
		el('section', {class: 'card'}, el('h2', {}, 'Plugin tokens'),
			el('p', {class: 'muted small'}, 'A token lets the game-client plugin sync your ' +
				'characters. Create one per computer; revoke it when you no longer use it.'),
			el('p', {class: 'small'}, 'Server URL to paste into the plugin with the token: ',
				el('code', {id: 'plugin-url'}, location.origin)),
			tokenForm, created,
			el('div', {class: 'scroll'}, el('table', {class: 'table', id: 'tokens'},
				el('thead', {}, el('tr', {}, el('th', {}, 'Label'), el('th', {}, 'Created'),
					el('th', {}, 'Last used'), el('th', {}, ''))), tokensBody)),
			tokensMsg),
		el('section', {class: 'card'}, el('h2', {}, 'Characters'), charsBox),
		el('section', {class: 'card'}, el('h2', {}, 'Sessions'),
			el('div', {class: 'scroll'}, el('table', {class: 'table', id: 'sessions'},
				el('thead', {}, el('tr', {}, el('th', {}, 'Browser'), el('th', {}, 'Started'),
					el('th', {}, 'Last seen'), el('th', {}, ''))), sessionsBody)),
			sessionsMsg),
		el('section', {class: 'card'}, el('h2', {}, 'Delete account'), del, delMsg));
	await Promise.all([
		loadTokens().catch((e) => replace(tokensMsg, errorNotice(e))),
		loadSessions().catch((e) => replace(sessionsMsg, errorNotice(e))),
	]);
}

async function pageJoin(main, me, code) {
	setTitle('Join a group');
	const chars = await myCharacters();
	const picker = characterPicker(chars);
	const msg = el('p', {class: 'small'});
	const form = el('form', {id: 'join'},
		el('label', {}, 'Characters to share'), picker,
		el('button', {type: 'submit'}, 'Join group'), msg);
	onSubmit(form, msg, () => joinGroup(code, picker.value()));
	replace(main, el('h1', {}, 'Join a group'),
		el('section', {class: 'card'},
			el('p', {}, 'You were invited with the code ', el('code', {}, code), '.'),
			form));
}

function pageNotFound(main) {
	setTitle('Not found');
	replace(main, el('h1', {}, 'Not found'), el('p', {}, el('a', {href: '/'}, 'Home')));
}

/* ---- the router ---- */

/* [path pattern, page, needs a login]; captures become arguments. */
const ROUTES = [
	[/^\/$/, pageLanding, false],
	[/^\/login$/, pageLogin, false],
	[/^\/app$/, pageGroups, true],
	[/^\/app\/groups\/([^/]+)$/, pageVault, true],
	[/^\/app\/groups\/([^/]+)\/activity$/, pageActivity, true],
	[/^\/app\/groups\/([^/]+)\/settings$/, pageSettings, true],
	[/^\/app\/account$/, pageAccount, true],
	[/^\/app\/billing$/, pageBilling, true],
	[/^\/join\/([^/]+)$/, pageJoin, true],
];

async function start() {
	const main = document.getElementById('main');
	const path = location.pathname.replace(/\/+$/, '') || '/';
	try {
		const me = await currentUser();
		drawNav(me);
		for (const [pattern, page, needsLogin] of ROUTES) {
			const m = pattern.exec(path);
			if (!m)
				continue;
			if (needsLogin && !me)
				toLogin();
			await page(main, me, ...m.slice(1).map(decodeURIComponent));
			document.body.dataset.ready = 'true';
			return;
		}
		pageNotFound(main);
	} catch (e) {
		if (e instanceof Redirected)
			return;
		if (e instanceof ApiError && e.status === 401)
			toLogin();
		console.error(e);
		replace(main, el('h1', {}, 'Something went wrong'), errorNotice(e));
	}
	document.body.dataset.ready = 'true';
}

start().catch(() => {});
