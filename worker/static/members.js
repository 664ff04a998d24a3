/*
 * members.js -- the roster panel (skills, level-ups, presence, sync times)
 * and the onboarding card of an empty vault.
 *
 * A classic script loaded before app.js; it uses app.js's helpers only
 * when called.  Presence comes from the plugin's heartbeats: the roster
 * answer carries each character's last one (`presence`, so a freshly
 * opened page already shows who is online), and the live `presence`
 * events bring the next ones; the newer of the two wins.  A character
 * heard from within PRESENCE_ONLINE_MS shows online with its world and
 * what it is doing, and falls back to offline ("last seen …") when the
 * heartbeats stop.
 */
'use strict';

const PRESENCE_ONLINE_MS = 2 * 60 * 1000;

/* The game's skill order (its skills interface, row by row). */
const SKILLS = ['attack', 'hitpoints', 'mining', 'strength', 'agility', 'smithing',
	'defence', 'herblore', 'fishing', 'ranged', 'thieving', 'cooking', 'prayer',
	'crafting', 'firemaking', 'magic', 'fletching', 'woodcutting', 'runecraft',
	'slayer', 'farming', 'construction', 'hunter'];

const presenceOf = new Map();	/* lower-case character -> {world, activity, at} */

function presenceLine(p) {
	const online = p && p.at && Date.now() - new Date(p.at).getTime() < PRESENCE_ONLINE_MS;
	if (!online)
		return el('span', {class: 'presence off'}, el('span', {class: 'dot', 'aria-hidden': 'true'}),
			'Offline', p && p.at ? [' · seen ', fmtTime(p.at)] : null);
	const bits = [];
	if (p.world)
		bits.push('World ' + p.world);
	if (p.activity)
		bits.push(p.activity);
	return el('span', {class: 'presence on'}, el('span', {class: 'dot', 'aria-hidden': 'true'}),
		'Online', bits.length ? ' · ' + bits.join(' · ') : '');
}

function redrawPresence(li) {
	const p = presenceOf.get(li.dataset.character.toLowerCase());
	const slot = li.querySelector('.presence-slot');
	if (slot)
		replace(slot, presenceLine(p));
}

/* A live heartbeat: mark that character online. */
function showPresence(list, p) {
	if (!p || !p.character)
		return;
	presenceOf.set(p.character.toLowerCase(), {world: p.world, activity: p.activity,
		at: p.at || new Date().toISOString()});
	for (const li of list.querySelectorAll('li.character'))
		if (li.dataset.character.toLowerCase() === p.character.toLowerCase())
			redrawPresence(li);
}

/* A live vault event: that character synced just now. */
function touchCharacter(list, name) {
	if (!name)
		return;
	for (const li of list.querySelectorAll('li.character'))
		if (li.dataset.character.toLowerCase() === name.toLowerCase())
			replace(li.querySelector('.synced'), 'synced ', fmtTime(new Date().toISOString()));
}

function levelOf(s) {
	return s && typeof s.level === 'number' ? s.level : 1;
}

function skillsGrid(skills) {
	return el('div', {class: 'skills', role: 'list'}, SKILLS.map((k) => el('span',
		{class: 'skill', role: 'listitem', title: capitalize(k) + ': ' +
			(skills[k] ? fmtInt(skills[k].xp) + ' xp' : 'not synced')},
		el('span', {class: 'skill-name'}, capitalize(k).slice(0, 3)),
		el('strong', {}, String(levelOf(skills[k]))))));
}

/* Draw the roster into list: members, their characters, skills, presence. */
async function drawRoster(list, gpath, members) {
	const skillsBy = new Map();	/* lower-case character -> {skills, updated_at} */
	const levelUps = new Map();	/* lower-case character -> [entries] */
	await Promise.all([
		...members.map((m) => api('GET', gpath + '/members/' + m.user_id + '/skills')
			.then((d) => (d.characters || []).forEach((c) =>
				skillsBy.set(c.name.toLowerCase(), c)))
			.catch(() => {})),
		api('GET', gpath + '/activity?limit=100').then((d) => {
			for (const a of d.activity || [])
				if (a.kind === 'level_up' && a.character) {
					const k = a.character.toLowerCase();
					if (!levelUps.has(k))
						levelUps.set(k, []);
					if (levelUps.get(k).length < 3)
						levelUps.get(k).push(a);
				}
		}).catch(() => {}),
	]);
	replace(list, members.map((m) => el('li', {class: 'member'},
		el('div', {class: 'member-name'}, el('strong', {}, m.display_name), ' ', roleBadge(m.role)),
		(m.characters || []).length === 0
			? el('p', {class: 'small muted'}, 'Shares no character yet.')
			: el('ul', {class: 'plain characters'}, (m.characters || []).map((c) => {
				const k = c.name.toLowerCase();
				const seen = presenceOf.get(k);
				if (c.presence && c.presence.at && (!seen ||
				    new Date(c.presence.at) > new Date(seen.at)))
					presenceOf.set(k, {world: c.presence.world, activity: c.presence.activity,
						at: c.presence.at});
				const sk = (skillsBy.get(k) || {}).skills || {};
				const names = Object.keys(sk);
				const total = names.length
					? SKILLS.reduce((s, n) => s + levelOf(sk[n]), 0) : null;
				const ups = levelUps.get(k) || [];
				const li = el('li', {class: 'character', 'data-character': c.name},
					el('div', {class: 'char-head'}, el('span', {class: 'char-name'}, c.name),
						total !== null ? el('span', {class: 'total-level',
							title: 'Total level'}, 'Total ', el('strong', {}, fmtInt(total))) : null),
					el('div', {class: 'small presence-slot'}),
					el('div', {class: 'small muted synced'}, 'synced ', fmtTime(c.last_sync_at)),
					ups.length ? el('div', {class: 'small levelups'}, ups.map((a) =>
						el('span', {class: 'levelup', title: fmtInt((a.data || {}).xp) + ' xp'},
							'▲ ', capitalize((a.data || {}).skill || ''), ' ',
							String((a.data || {}).level)))) : null,
					names.length ? el('details', {class: 'skills-box'},
						el('summary', {}, 'Skills'), skillsGrid(sk)) : null);
				redrawPresence(li);
				return li;
			})))));
}

/* Presence times out without an event: look again every 30 s. */
setInterval(() => {
	for (const li of document.querySelectorAll('li.character'))
		redrawPresence(li);
}, 30000);

/*
 * An empty vault: the three steps from nothing to a synced vault, with
 * the token made here, the exact server URL and the invite link.
 */
function drawOnboarding(main, g, me, box, empty) {
	if (!empty) {
		clear(box);
		return;
	}
	const tokenOut = el('div', {id: 'onboard-token'});
	const msg = el('span', {class: 'small'});
	const make = actionButton('Create a plugin token', '', msg, async () => {
		const t = await api('POST', '/api/v1/me/tokens', {label: 'Plugin (' + g.name + ')'});
		const copyMsg = el('span', {class: 'small'});
		replace(tokenOut, el('code', {class: 'secret'}, t.token),
			el('p', {class: 'small muted'}, 'Shown only this once: paste it into the plugin now.'),
			copyButton(t.token, copyMsg), copyMsg);
	});
	const server = location.origin;
	const serverMsg = el('span', {class: 'small'});
	let invite;
	if (g.join_code) {
		const url = location.origin + '/join/' + encodeURIComponent(g.join_code);
		const inviteMsg = el('span', {class: 'small'});
		invite = [el('p', {}, 'Send your group this link, or the code ',
			el('code', {}, g.join_code), ':'),
		el('code', {class: 'secret'}, url), copyButton(url, inviteMsg), inviteMsg];
	} else {
		invite = el('p', {}, 'Ask the group\'s owner for the invite link (Settings → Join code).');
	}
	replace(box, el('section', {class: 'card onboarding', 'aria-labelledby': 'onboard-title'},
		el('h2', {id: 'onboard-title'}, 'Fill your vault in three steps'),
		el('ol', {class: 'steps'},
			el('li', {}, el('h3', {}, 'Create a plugin token'),
				el('p', {class: 'small'}, 'The token lets the game-client plugin sync your ' +
					'characters. Manage tokens on ', el('a', {href: '/app/account'}, 'your account'), '.'),
				make, msg, tokenOut),
			el('li', {}, el('h3', {}, 'Paste it into the plugin'),
				el('p', {class: 'small'}, 'In the plugin\'s settings, set the server URL to'),
				el('code', {class: 'secret', id: 'server-url'}, server),
				copyButton(server, serverMsg), serverMsg,
				el('p', {class: 'small'}, 'and the token from step 1. Log in to the game: your ' +
					'bank syncs when you open it, your inventory and gear as you play.')),
			el('li', {}, el('h3', {}, 'Invite your group'), invite))));
}

function copyButton(text, msg) {
	return actionButton('Copy', 'secondary', msg, async () => {
		await navigator.clipboard.writeText(text);
		msg.className = 'small ok';
		replace(msg, ' Copied.');
	});
}
