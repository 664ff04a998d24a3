/*
 * billing.js -- the billing page (/app/billing): the plans, the caller's
 * subscription, checkout and cancellation.
 *
 * A classic script loaded before app.js.  Checkout sends the browser to
 * the provider's page (checkout_url); the provider sends it back to
 * /app/billing?checkout=done and tells coffer by its webhook, which may
 * land a moment later (the mock provider's lands first), so the page
 * polls the subscription a few times (with a deadline) until it reads
 * premium.  A server without a payment provider still lists the plans;
 * its checkout answers 503 feature_disabled, which the page says plainly.
 */
'use strict';

const CHECKOUT_POLL_MS = 1000;
const CHECKOUT_WAIT_MS = 20000;

function planRows(plans) {
	const by = Object.fromEntries(plans.map((p) => [p.name, p]));
	const cell = (p, f) => (p ? f(p) : '–');
	const free = by.free, prem = by.premium;
	return [
		['Members per group', (p) => fmtInt(p.members_per_group)],
		['Activity kept', (p) => fmtInt(p.activity_days) + ' days'],
		['Webhooks per group', (p) => (p.webhooks_per_group ? fmtInt(p.webhooks_per_group) : '–')],
		['Vault history and export', (p) => (p.history_export ? 'yes' : '–')],
		['Price', priceText],
	].map(([label, f]) => el('tr', {}, el('th', {scope: 'row'}, label),
		el('td', {}, cell(free, f)), el('td', {}, cell(prem, f))));
}

/* price is in the smallest unit of currency (cents), per interval. */
function priceText(p) {
	if (typeof p.price !== 'number')
		return '–';
	if (p.price === 0)
		return 'free';
	let amount;
	try {
		amount = new Intl.NumberFormat(undefined, {style: 'currency',
			currency: String(p.currency || 'usd').toUpperCase()}).format(p.price / 100);
	} catch (e) {		/* a currency code Intl does not know */
		amount = (p.price / 100).toFixed(2) + ' ' + String(p.currency || '').toUpperCase();
	}
	return p.interval ? amount + ' / ' + p.interval : amount;
}

/* The welcome after a checkout, and the address without ?checkout=done. */
function welcomePremium(msg) {
	msg.className = 'small ok';
	replace(msg, 'Welcome to premium.');
	history.replaceState(null, '', location.pathname);
}

async function pageBilling(main) {
	setTitle('Billing');
	const subBox = el('div', {id: 'subscription'});
	const msg = el('p', {class: 'small', id: 'billing-msg', role: 'status'});
	let [plans, sub] = await Promise.all([api('GET', '/api/v1/billing/plans'),
		api('GET', '/api/v1/billing/subscription')]);

	function drawSub(s) {
		const premium = s.plan === 'premium' && s.status !== 'canceled';
		const until = s.current_period_end ? new Date(s.current_period_end).toLocaleDateString() : null;
		const parts = [el('p', {}, 'Your plan: ', el('strong', {id: 'plan-name'}, capitalize(s.plan)),
			s.status && s.status !== 'none' ? el('span', {class: 'badge ' + s.status}, s.status.replace('_', ' ')) : null,
			until ? el('span', {class: 'muted small'}, s.status === 'canceled' ? ' · ends ' : ' · renews ', until) : null)];
		if (s.status === 'past_due')
			parts.push(el('p', {class: 'notice error'}, 'The last payment failed: update it with ' +
				'the payment provider to keep premium.'));
		if (premium && s.status === 'active')
			parts.push(actionButton('Cancel premium', 'danger', msg, async () => {
				if (!confirm('Cancel premium? Your groups go back to the free limits at the end of the period.'))
					return;
				await api('POST', '/api/v1/billing/cancel');
				msg.className = 'small ok';
				replace(msg, 'Premium is cancelled.');
				drawSub(await api('GET', '/api/v1/billing/subscription'));
			}));
		else if (!premium)
			parts.push(actionButton('Upgrade to premium', '', msg, async () => {
				let r;
				try {
					r = await api('POST', '/api/v1/billing/checkout', {plan: 'premium'});
				} catch (e) {
					if (e.code === 'feature_disabled')
						throw new ApiError(e.status, e.code,
							'payments are not available on this server');
					throw e;
				}
				const url = new URL(r.checkout_url, location.href);
				if (url.protocol !== 'https:' && url.protocol !== 'http:')
					throw new ApiError(0, 'bad_checkout', 'the payment provider sent an unusable address');
				location.assign(url.href);
			}));
		replace(subBox, parts);
	}

	replace(main, el('h1', {}, 'Billing'),
		el('section', {class: 'card'}, el('h2', {}, 'Subscription'), subBox, msg),
		el('section', {class: 'card'}, el('h2', {}, 'Plans'),
			el('p', {class: 'muted small'}, 'Premium belongs to you and lifts the limits of ' +
				'the groups you own.'),
			el('div', {class: 'scroll'}, el('table', {class: 'table', id: 'plans'},
				el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'Free'),
					el('th', {}, 'Premium'))),
				el('tbody', {}, planRows(plans.plans || []))))));
	drawSub(sub);

	/* Back from the provider: wait for its webhook to make us premium. */
	if (new URLSearchParams(location.search).get('checkout') !== 'done')
		return;
	if (sub.plan === 'premium') {
		welcomePremium(msg);
		return;
	}
	replace(msg, 'Payment received: switching to premium…');
	const deadline = Date.now() + CHECKOUT_WAIT_MS;
	while (Date.now() < deadline) {
		await new Promise((r) => setTimeout(r, CHECKOUT_POLL_MS));
		sub = await api('GET', '/api/v1/billing/subscription').catch(() => sub);
		if (sub.plan === 'premium') {
			drawSub(sub);
			welcomePremium(msg);
			return;
		}
	}
	msg.className = 'small error';
	replace(msg, 'The payment has not reached us yet: reload this page in a minute.');
}
