-- compat_update.lua -- wrk: the plugin's update-group-member with a full bank
-- (ITEMS items, default 1,500: 3,000 numbers, the API's limit) with a few
-- quantities changed each time, for a random member of a random group.
-- env GROUPS_FILE ("name token" lines, written by compat_load.py setup), ITEMS.
local nitems = tonumber(os.getenv("ITEMS") or "1500")
local groups = {}
local n = 0

function setup(thread)
	n = n + 1
	thread:set("tid", n)
end

function init(args)
	math.randomseed(tid * 104729 + os.time())
	for line in io.lines(os.getenv("GROUPS_FILE")) do
		local name, token = line:match("^(%S+) (%S+)$")
		if name then groups[#groups + 1] = { name, token } end
	end
end

local count = 0

function request()
	local g = groups[math.random(1, #groups)]
	local gi = tonumber(g[1]:sub(6))
	local m = math.random(0, 4)
	local parts = {}
	count = count + 1
	for j = 0, nitems - 1 do
		local qty = 1 + j % 1000
		if j % 500 == (count % 500) then qty = qty + count end
		parts[#parts + 1] = string.format("%d,%d", 1 + (gi * 7 + m * 13 + j * 3) % 27000, qty)
	end
	local body = string.format('{"name":"m%dx%d","bank":[%s]}', gi, m, table.concat(parts, ","))
	return wrk.format("POST", "/api/group/" .. g[1] .. "/update-group-member",
		{ ["Authorization"] = g[2], ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
	io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.status, summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout))
end
