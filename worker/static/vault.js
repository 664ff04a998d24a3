/*
 * vault.js -- the vault page (/app/groups/{id}): the group's items, the
 * per-member view laid out like the game's interfaces, an item's detail,
 * the roster with skills and presence, and (premium) the value history.
 *
 * A classic script loaded before app.js; it uses app.js's helpers (el,
 * api, fmt*) only when a page is drawn, never while loading.
 *
 * The whole vault is fetched once (GET …/vault, 500 items a page, at most
 * VAULT_MAX_PAGES pages) and then filtered, sorted and shown 100 rows at a
 * time here: the API sorts by value, qty, name and id but a player also
 * sorts by unit price and by holder, and filters by member, which only the
 * holders say.  A live `vault` event reloads it (debounced), so the page
 * costs a few requests however often the members sync.
 */
'use strict';

const VAULT_PAGE = 500;
const VAULT_MAX_PAGES = 40;		/* 20,000 items: far beyond any real group */
const VAULT_ROWS = 100;			/* rows drawn at once; "Show more" adds more */

/* The game's equipment interface, as [slot, row, column]. */
const EQUIP_SLOTS = [
	['head', 1, 2], ['cape', 2, 1], ['neck', 2, 2], ['ammo', 2, 3],
	['weapon', 3, 1], ['body', 3, 2], ['shield', 3, 3],
	['legs', 4, 2], ['hands', 5, 1], ['feet', 5, 2], ['ring', 5, 3],
];

/* Which slot an item is worn in, from its name (the catalog has no slot). */
function equipSlot(name) {
	const n = (name || '').toLowerCase();
	const rules = [
		['ammo', /\b(arrows?|bolts?|darts?|javelins?|blessing)\b|\(e\)$/],
		['ring', /\bring\b/],
		['neck', /\b(amulet|necklace|torture|anguish|occult|fury|glory)\b/],
		['cape', /\b(cape|cloak|accumulator|assembler|attractor)\b/],
		['head', /\b(helm|helmet|hat|hood|coif|mask|faceguard|crown|serpentine|cowl|headband)\b/],
		['hands', /\b(gloves|vambraces|bracers?|gauntlets)\b/],
		['feet', /\b(boots|sandals|shoes)\b/],
		['legs', /(legs|skirt|tassets|chaps|cuisse|bottoms?\b|greaves|\brobe$)/],
		['body', /(body|chestplate|robetop|\btop\b|torso|shirt|hauberk|brassard)/],
		['shield', /\b(shield|defender|book|kiteshield|ward|buckler|tome)\b/],
	];
	for (const [slot, re] of rules)
		if (re.test(n))
			return slot;
	return 'weapon';
}

/* A square badge with the item's initials: the catalog ships no images. */
function itemIcon(name) {
	const words = (name || '?').replace(/\(.*?\)/g, '').trim().split(/\s+/);
	const letters = (words[0] ? words[0][0] : '?') + (words[1] ? words[1][0] : '');
	let h = 0;
	for (const ch of name || '?')
		h = (h * 31 + ch.charCodeAt(0)) >>> 0;
	return el('span', {class: 'icon hue' + (h % 8), 'aria-hidden': 'true'},
		letters.toUpperCase());
}

function itemName(it) {
	return it.name === null || it.name === undefined
		? el('span', {class: 'muted'}, 'Unknown item') : it.name;
}

/* The dialog showing one item: GET …/vault/items/{item_id}. */
async function showItem(gid, item) {
	const body = el('div', {class: 'dialog-body'}, el('p', {class: 'muted'}, 'Loading…'));
	const close = el('button', {type: 'button', class: 'secondary', id: 'item-close'}, 'Close');
	const dlg = el('dialog', {class: 'item-dialog', id: 'item-detail',
		'aria-labelledby': 'item-title'},
		el('div', {class: 'dialog-head'}, itemIcon(item.name),
			el('h2', {id: 'item-title'}, itemName(item)), close), body);
	close.addEventListener('click', () => dlg.close());
	dlg.addEventListener('close', () => dlg.remove());
	dlg.addEventListener('click', (e) => {
		if (e.target === dlg)
			dlg.close();	/* a click on the backdrop */
	});
	document.body.appendChild(dlg);
	dlg.showModal();
	let d;
	try {
		d = await api('GET', '/api/v1/groups/' + encodeURIComponent(gid) +
			'/vault/items/' + encodeURIComponent(item.id));
	} catch (e) {
		replace(body, errorNotice(e));
		return;
	}
	const holders = d.holders || [];
	replace(body,
		el('dl', {class: 'facts'},
			el('dt', {}, 'Total'), el('dd', {}, fmtInt(d.qty), ' × ', gpValue(d.unit_price),
				' = ', gpValue(d.value)),
			el('dt', {}, 'Unit price'), el('dd', {}, fmtInt(d.unit_price), ' gp')),
		holders.length === 0 ? el('p', {class: 'muted'}, 'Nobody holds it any more.')
			: el('table', {class: 'table compact', id: 'item-holders'},
				el('thead', {}, el('tr', {}, el('th', {}, 'Who'), el('th', {}, 'Where'),
					el('th', {class: 'num'}, 'Qty'), el('th', {}, 'Since'))),
				el('tbody', {}, holders.map((h) => el('tr', {},
					el('td', {}, h.character), el('td', {}, containerName(h.container)),
					el('td', {class: 'num'}, fmtInt(h.qty)),
					el('td', {}, fmtTime(h.held_since)))))));
}

/* The value history of a premium group as an SVG line chart with the
 * export links, or nothing (a free group: 403).  With fewer than two days
 * of totals there is no line to draw yet, but the export is offered. */
async function historyChart(gid) {
	let data;
	try {
		data = await api('GET', '/api/v1/groups/' + encodeURIComponent(gid) +
			'/vault/history?days=30');
	} catch (e) {
		return null;		/* free plan (403/422), or not built: no chart */
	}
	const pts = (data.history || []).filter((p) => typeof p.total_value === 'number');
	const base = '/api/v1/groups/' + encodeURIComponent(gid) + '/vault/export';
	const head = el('div', {class: 'head'}, el('h2', {}, 'Value, last 30 days'),
		el('span', {class: 'actions'},
			el('a', {class: 'button secondary', href: base, download: 'vault.csv'}, 'Export CSV'),
			el('a', {class: 'button secondary', href: base + '?format=json',
				download: 'vault.json'}, 'JSON')));
	if (pts.length < 2)
		return el('section', {class: 'card', id: 'history', 'aria-label': 'Value history'}, head,
			el('p', {class: 'small muted'}, 'The chart starts once the vault has totals ' +
				'from two different days.'));
	const W = 600, H = 160, P = 8;
	const max = Math.max(...pts.map((p) => p.total_value));
	const min = Math.min(...pts.map((p) => p.total_value));
	const span = max - min || 1;
	const xy = pts.map((p, i) => [P + (W - 2 * P) * i / (pts.length - 1),
		H - P - (H - 2 * P) * (p.total_value - min) / span]);
	const NS = 'http://www.w3.org/2000/svg';
	const svg = document.createElementNS(NS, 'svg');
	svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
	svg.setAttribute('class', 'chart');
	svg.setAttribute('role', 'img');
	svg.setAttribute('aria-label', 'Vault value over the last ' + pts.length + ' days, from ' +
		fmtShort(pts[0].total_value) + ' to ' + fmtShort(pts[pts.length - 1].total_value));
	const line = document.createElementNS(NS, 'polyline');
	line.setAttribute('points', xy.map(([x, y]) => x.toFixed(1) + ',' + y.toFixed(1)).join(' '));
	line.setAttribute('class', 'line');
	svg.appendChild(line);
	for (let i = 0; i < xy.length; i++) {
		const dot = document.createElementNS(NS, 'circle');
		dot.setAttribute('cx', xy[i][0].toFixed(1));
		dot.setAttribute('cy', xy[i][1].toFixed(1));
		dot.setAttribute('r', '3');
		const t = document.createElementNS(NS, 'title');
		t.textContent = pts[i].date + ': ' + fmtInt(pts[i].total_value) + ' gp';
		dot.appendChild(t);
		svg.appendChild(dot);
	}
	return el('section', {class: 'card', id: 'history', 'aria-label': 'Value history'}, head,
		svg,
		el('p', {class: 'small muted'}, fmtShort(min) + ' – ' + fmtShort(max) + ' gp'));
}

/* Bars of each member's and each container's share of the value:
 * GET …/vault/summary.  Widths are set through the CSSOM, which the
 * Content-Security-Policy allows (no inline style attribute). */
function summaryCard(sum) {
	const total = sum.total_value || 0;
	const bars = (rows, label) => el('ul', {class: 'plain bars'}, rows.map((r) => {
		const fill = el('span', {class: 'fill'});
		fill.style.width = (total > 0 ? Math.max(1, 100 * r.total_value / total) : 0).toFixed(1) + '%';
		return el('li', {}, el('div', {class: 'bar-head'}, el('span', {}, label(r)),
			gpValue(r.total_value)), el('span', {class: 'bar', 'aria-hidden': 'true'}, fill));
	}));
	return [el('h2', {}, 'Who holds the value'),
		bars(sum.members || [], (m) => m.display_name),
		el('h2', {class: 'spaced'}, 'By container'),
		bars((sum.containers || []).filter((c) => c.total_value > 0 || c.item_count > 0),
			(c) => containerName(c.container))];
}

/* The vault page. */
async function pageVault(main, me, id) {
	const g = await loadGroup(main, id);
	if (!g)
		return;
	setTitle(g.name);
	const gpath = '/api/v1/groups/' + encodeURIComponent(id);
	const params = new URLSearchParams(location.search);
	const SORTS = ['name', 'qty', 'price', 'value', 'holders'];
	const state = {
		q: params.get('q') || '',
		container: CONTAINERS.includes(params.get('container')) ? params.get('container') : '',
		member: params.get('member') || '',
		sort: SORTS.includes(params.get('sort')) ? params.get('sort') : 'value',
		order: params.get('order') === 'asc' ? 'asc' : 'desc',
		view: params.get('view') === 'member' ? 'member' : 'table',
		shown: VAULT_ROWS,
	};
	let items = [];		/* the whole vault, as the API lists it */
	let whole = {total_value: 0, item_count: 0};
	let roster = [];
	let generation = 0;

	const statTotal = el('div', {class: 'value', id: 'total-value'}, '–');
	const statTotalLabel = el('div', {class: 'label'}, 'Total value');
	const statTotalHint = el('div', {class: 'hint small', id: 'total-hint'});
	const statItems = el('div', {class: 'value', id: 'item-count'}, '–');
	const statMembers = el('div', {class: 'value'}, fmtInt(g.member_count));
	const statSync = el('div', {class: 'value small', id: 'last-sync'}, fmtTime(g.last_sync_at));
	const stats = el('div', {class: 'stats'},
		el('div', {class: 'stat', id: 'stat-total'}, statTotalLabel, statTotal, statTotalHint),
		el('div', {class: 'stat'}, el('div', {class: 'label'}, 'Items'), statItems),
		el('div', {class: 'stat'}, el('div', {class: 'label'}, 'Members'), statMembers),
		el('div', {class: 'stat'}, el('div', {class: 'label'}, 'Last sync'), statSync));

	const search = el('input', {type: 'search', id: 'vault-q', placeholder: 'Search items',
		'aria-label': 'Search items', value: state.q});
	const container = el('select', {id: 'vault-container', 'aria-label': 'Container'},
		el('option', {value: ''}, 'All containers'),
		CONTAINERS.map((c) => el('option', {value: c, selected: c === state.container},
			containerName(c))));
	const member = el('select', {id: 'vault-member', 'aria-label': 'Member'},
		el('option', {value: ''}, 'All members'));
	const clearBtn = el('button', {type: 'button', class: 'secondary', id: 'vault-clear',
		hidden: true}, 'Clear filters');
	const viewTable = el('button', {type: 'button', class: 'seg', id: 'view-table',
		'aria-pressed': 'true'}, 'Table');
	const viewMember = el('button', {type: 'button', class: 'seg', id: 'view-member',
		'aria-pressed': 'false'}, 'Member view');

	const columns = [
		['name', 'Item', 'item'], ['qty', 'Qty', 'num'], ['price', 'Unit price', 'num unit'],
		['value', 'Value', 'num'], ['holders', 'Held by', 'holders'],
	];
	const headRow = el('tr');
	const tbody = el('tbody');
	const table = el('table', {class: 'table vault', id: 'vault'}, el('thead', {}, headRow), tbody);
	const status = el('p', {class: 'muted small', id: 'vault-status'});
	const more = el('button', {type: 'button', class: 'secondary', id: 'load-more', hidden: true},
		'Show more');
	const toolbar = el('div', {class: 'toolbar'}, search, container, member, clearBtn,
		el('span', {class: 'segmented', role: 'group', 'aria-label': 'View'},
			viewTable, viewMember));
	const tablePane = el('div', {id: 'table-pane'},
		el('div', {class: 'scroll'}, table), status, el('div', {class: 'more'}, more));
	const memberPane = el('div', {id: 'member-pane', hidden: true});
	const onboarding = el('div', {id: 'onboarding'});
	const rosterList = el('ul', {class: 'plain roster', id: 'roster'});
	const groupStorage = el('section', {class: 'card', id: 'group-storage', hidden: true,
		'aria-label': 'Group storage'});
	const summary = el('section', {class: 'card', id: 'summary', hidden: true,
		'aria-label': 'Summary'});

	async function loadSummary() {
		try {
			const sum = await api('GET', gpath + '/vault/summary');
			summary.hidden = !(sum.total_value > 0);
			replace(summary, summaryCard(sum));
		} catch (e) {
			summary.hidden = true;
		}
	}

	/* --- filtering and sorting (all here, over `items`) --- */

	function memberChars() {
		const m = roster.find((x) => String(x.user_id) === state.member);
		return m ? new Set((m.characters || []).map((c) => c.name.toLowerCase())) : null;
	}

	/* Items with holders and quantities narrowed to the filters. */
	function filtered() {
		const q = state.q.toLowerCase();
		const chars = state.member ? memberChars() : null;
		const out = [];
		for (const it of items) {
			if (q && !(it.name || '').toLowerCase().includes(q))
				continue;
			let holders = it.holders || [];
			if (state.container)
				holders = holders.filter((h) => h.container === state.container);
			if (chars)
				holders = holders.filter((h) => chars.has(h.character.toLowerCase()));
			if (holders.length === 0)
				continue;
			if (!state.container && !chars) {
				out.push(it);
				continue;
			}
			const qty = holders.reduce((s, h) => s + h.qty, 0);
			out.push(Object.assign({}, it, {qty, value: qty * it.unit_price, holders}));
		}
		const key = {
			name: (it) => (it.name || '').toLowerCase(), qty: (it) => it.qty,
			price: (it) => it.unit_price, value: (it) => it.value,
			holders: (it) => (it.holders[0] ? it.holders[0].character.toLowerCase() : ''),
		}[state.sort];
		const dir = state.order === 'asc' ? 1 : -1;
		out.sort((a, b) => {
			const ka = key(a), kb = key(b);
			if (ka < kb)
				return -dir;
			if (ka > kb)
				return dir;
			return a.id - b.id;
		});
		return out;
	}

	function isFiltered() {
		return Boolean(state.q || state.container || state.member);
	}

	function drawHead() {
		replace(headRow, columns.map(([key, text, cls]) => {
			const sorted = state.sort === key;
			const b = el('button', {type: 'button', class: 'sort', 'data-sort': key}, text);
			b.addEventListener('click', () => {
				if (sorted)
					state.order = state.order === 'asc' ? 'desc' : 'asc';
				else {
					state.sort = key;
					state.order = key === 'name' || key === 'holders' ? 'asc' : 'desc';
				}
				redraw();
			});
			return el('th', {class: cls, 'aria-sort': sorted
				? (state.order === 'asc' ? 'ascending' : 'descending') : 'none'}, b);
		}));
	}

	/* "Zezima (bank)" for one holder, "Zezima +2" for several. */
	function holdersCell(it) {
		const hs = it.holders || [];
		const names = [...new Set(hs.map((h) => h.character))];
		const first = hs[0];
		const label = names.length > 1
			? names[0] + ' +' + (names.length - 1)
			: first.character + ' · ' + containerName(first.container).toLowerCase();
		return el('span', {title: holdersText(hs)}, label);
	}

	function row(it) {
		const open = el('button', {type: 'button', class: 'itemlink',
			'data-item': it.id}, itemName(it));
		open.addEventListener('click', () => showItem(id, it));
		return el('tr', {'data-id': it.id},
			el('td', {class: 'item'}, el('span', {class: 'itemcell'}, itemIcon(it.name), open)),
			el('td', {class: 'num'}, stackQty(it.qty)),
			el('td', {class: 'num unit'}, gpValue(it.unit_price)),
			el('td', {class: 'num'}, gpValue(it.value)),
			el('td', {class: 'holders'}, holdersCell(it)));
	}

	function drawTotals(list) {
		if (isFiltered()) {
			const total = list.reduce((s, it) => s + it.value, 0);
			replace(statTotalLabel, 'Matching value ', el('span', {class: 'badge filter'}, 'filtered'));
			replace(statTotal, gpValue(total, true));
			replace(statTotalHint, 'of ', gpValue(whole.total_value, true), ' in the whole vault');
			replace(statItems, fmtInt(list.length));
		} else {
			replace(statTotalLabel, 'Total value');
			replace(statTotal, gpValue(whole.total_value, true));
			replace(statTotalHint);
			replace(statItems, fmtInt(whole.item_count));
		}
	}

	function drawTable() {
		const list = filtered();
		drawTotals(list);
		drawHead();
		replace(tbody, list.slice(0, state.shown).map(row));
		more.hidden = list.length <= state.shown;
		table.hidden = whole.item_count === 0;
		toolbar.hidden = whole.item_count === 0;
		if (whole.item_count === 0)
			replace(status, 'The vault is empty: it fills as soon as a member\'s plugin syncs.');
		else if (list.length === 0)
			replace(status, 'No item matches.');
		else
			replace(status, 'Showing ' + fmtInt(Math.min(list.length, state.shown)) + ' of ' +
				fmtInt(list.length) + ' items.');
		clearBtn.hidden = !isFiltered();
	}

	/* --- the per-member view: each character's equipment, inventory and
	 * bank as grids like the game's --- */

	function byCharacter() {
		const chars = new Map();
		for (const it of items)
			for (const h of it.holders || []) {
				const key = h.character;
				if (!chars.has(key))
					chars.set(key, {});
				const c = chars.get(key);
				(c[h.container] = c[h.container] || []).push({it, qty: h.qty});
			}
		for (const c of chars.values())
			for (const list of Object.values(c))
				list.sort((a, b) => b.qty * b.it.unit_price - a.qty * a.it.unit_price);
		return chars;
	}

	function slotCell(entry, extra) {
		if (!entry)
			return el('span', {class: 'slot empty' + (extra || '')});
		const b = el('button', {type: 'button', class: 'slot' + (extra || ''),
			title: (entry.it.name || 'Unknown item') + ' × ' + fmtInt(entry.qty) + ' — ' +
				fmtInt(entry.qty * entry.it.unit_price) + ' gp'},
			itemIcon(entry.it.name),
			entry.qty > 1 ? el('span', {class: 'stack ' + tier(entry.qty)}, fmtStack(entry.qty)) : null,
			el('span', {class: 'sr'}, entry.it.name || 'Unknown item'));
		b.addEventListener('click', () => showItem(id, entry.it));
		return b;
	}

	function equipmentGrid(list) {
		const worn = new Map();
		for (const e of list || []) {
			const s = equipSlot(e.it.name);
			if (!worn.has(s))
				worn.set(s, e);
		}
		return el('div', {class: 'equip', 'aria-label': 'Worn equipment'},
			EQUIP_SLOTS.map(([slot, r, c]) => {
				const cell = slotCell(worn.get(slot), ' r' + r + ' c' + c);
				cell.setAttribute('data-slot', slot);
				return cell;
			}));
	}

	function gridOf(list, cls, label) {
		return el('div', {class: 'grid-slots ' + cls, 'aria-label': label},
			(list || []).map((e) => slotCell(e)));
	}

	function sumOf(list) {
		return (list || []).reduce((s, e) => s + e.qty * e.it.unit_price, 0);
	}

	function drawMemberView() {
		const chars = byCharacter();
		const pick = state.member ? memberChars() : null;
		const cards = [];
		for (const m of roster)
			for (const c of m.characters || []) {
				if (pick && !pick.has(c.name.toLowerCase()))
					continue;
				const cs = chars.get(c.name) || {};
				const total = Object.values(cs).reduce((s, l) => s + sumOf(l), 0);
				const sub = (title, node, list) => el('div', {class: 'pane'},
					el('h3', {}, title, ' ', el('span', {class: 'muted small'}, list && list.length
						? gpValue(sumOf(list)) : '')), node);
				const extra = ['rune_pouch', 'quiver', 'looting_bag', 'potion_storage', 'seed_vault']
					.filter((k) => cs[k] && cs[k].length)
					.map((k) => sub(containerName(k), gridOf(cs[k], 'small-grid', containerName(k)), cs[k]));
				cards.push(el('section', {class: 'card member-card', 'data-character': c.name},
					el('div', {class: 'head'}, el('h2', {}, c.name, ' ',
						el('span', {class: 'muted small'}, m.display_name)),
						el('span', {}, gpValue(total, true))),
					el('div', {class: 'member-layout'},
						sub('Equipment', equipmentGrid(cs.equipment), cs.equipment),
						sub('Inventory', el('div', {class: 'inventory'},
							Array.from({length: 28}, (_, i) => slotCell((cs.inventory || [])[i]))),
							cs.inventory),
						extra),
					sub('Bank', cs.bank && cs.bank.length
						? gridOf(cs.bank, 'bank', 'Bank')
						: el('p', {class: 'muted small'}, 'Nothing in the bank yet.'), cs.bank)));
			}
		replace(memberPane, cards.length ? cards : el('p', {class: 'muted'},
			'No character is shared in this group yet.'));
	}

	/* Group storage belongs to the whole group: its own card, first. */
	function drawGroupStorage() {
		const list = [];
		for (const it of items)
			for (const h of it.holders || [])
				if (h.container === 'group_storage')
					list.push({it, qty: h.qty});
		list.sort((a, b) => b.qty * b.it.unit_price - a.qty * a.it.unit_price);
		groupStorage.hidden = list.length === 0;
		replace(groupStorage, el('div', {class: 'head'}, el('h2', {}, 'Group storage'),
			el('span', {}, gpValue(sumOf(list), true))),
		gridOf(list, 'bank', 'Group storage'));
	}

	function redraw() {
		const q = new URLSearchParams();
		if (state.q)
			q.set('q', state.q);
		if (state.container)
			q.set('container', state.container);
		if (state.member)
			q.set('member', state.member);
		if (state.sort !== 'value')
			q.set('sort', state.sort);
		if (state.order !== 'desc')
			q.set('order', state.order);
		if (state.view !== 'table')
			q.set('view', state.view);
		const qs = q.toString();
		history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
		const asMember = state.view === 'member';
		viewTable.setAttribute('aria-pressed', String(!asMember));
		viewMember.setAttribute('aria-pressed', String(asMember));
		tablePane.hidden = asMember;
		memberPane.hidden = !asMember;
		drawTable();
		if (asMember)
			drawMemberView();
	}

	/* Fetch every page of the vault, then draw. */
	async function load() {
		const mine = ++generation;
		const all = [];
		let cursor = null, v = null;
		try {
			for (let page = 0; page < VAULT_MAX_PAGES; page++) {
				const q = new URLSearchParams({limit: String(VAULT_PAGE)});
				if (cursor)
					q.set('cursor', cursor);
				v = await api('GET', gpath + '/vault?' + q);
				if (mine !== generation)
					return;
				all.push(...(v.items || []));
				cursor = v.next_cursor;
				if (!cursor)
					break;
			}
		} catch (e) {
			if (mine === generation)
				replace(status, errorNotice(e));
			return;
		}
		items = all;
		whole = {total_value: v.total_value, item_count: v.item_count};
		window.vaultNames = new Map(items.map((it) => [it.id, it]));
		drawGroupStorage();
		redraw();
		drawOnboarding(main, g, me, onboarding, whole.item_count === 0);
	}

	async function loadRoster() {
		try {
			const data = await api('GET', gpath + '/roster');
			roster = data.members || [];
		} catch (e) {
			replace(rosterList, el('li', {}, errorNotice(e)));
			return;
		}
		const keep = state.member;
		replace(member, el('option', {value: ''}, 'All members'),
			roster.map((m) => el('option', {value: String(m.user_id),
				selected: String(m.user_id) === keep}, m.display_name)));
		drawRoster(rosterList, gpath, roster);
	}

	let typing = null;
	search.addEventListener('input', () => {
		clearTimeout(typing);
		typing = setTimeout(() => {
			state.q = search.value.trim();
			state.shown = VAULT_ROWS;
			redraw();
		}, 200);
	});
	container.addEventListener('change', () => {
		state.container = container.value;
		state.shown = VAULT_ROWS;
		redraw();
	});
	member.addEventListener('change', () => {
		state.member = member.value;
		state.shown = VAULT_ROWS;
		redraw();
	});
	clearBtn.addEventListener('click', () => {
		state.q = state.container = state.member = '';
		search.value = '';
		container.value = '';
		member.value = '';
		redraw();
	});
	viewTable.addEventListener('click', () => { state.view = 'table'; redraw(); });
	viewMember.addEventListener('click', () => { state.view = 'member'; redraw(); });
	more.addEventListener('click', () => {
		state.shown += VAULT_ROWS;
		drawTable();
	});

	replace(main, groupHeader(g, location.pathname), onboarding, stats,
		el('div', {class: 'split'},
			el('div', {},
				groupStorage,
				el('section', {class: 'card', 'aria-label': 'Vault'}, toolbar, tablePane, memberPane),
				el('div', {id: 'history-slot'})),
			el('aside', {}, el('section', {class: 'card', 'aria-label': 'Members'},
				el('h2', {}, 'Members'), rosterList), summary)));
	await loadRoster();
	await Promise.all([load(), loadSummary()]);
	historyChart(id).then((chart) => {
		if (chart)
			replace(document.getElementById('history-slot'), chart);
	});
	const reloadSoon = debounce(() => Promise.all([load(), loadSummary()]), 400);
	const rosterSoon = debounce(loadRoster, 300);
	liveEvents(id, {
		vault: (v) => {
			if (v) {
				whole = {total_value: v.total_value, item_count: v.item_count};
				if (!isFiltered())
					drawTotals([]);
			}
			replace(statSync, fmtTime(new Date().toISOString()));
			touchCharacter(rosterList, v && v.character);
			reloadSoon();
		},
		presence: (p) => showPresence(rosterList, p),
		activity: (a) => {
			if (a && a.kind === 'level_up')
				rosterSoon();	/* the skills and level-ups changed */
		},
		roster: debounce(() => Promise.all([loadRoster(), loadSummary()]), 300),
		refresh: () => Promise.all([load(), loadRoster(), loadSummary()]),
	});
}
