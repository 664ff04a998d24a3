-- compat_data.lua -- wrk: get-group-data of a random group from the epoch
-- (the site's first poll: every field of 5 members and @SHARED).
-- env GROUPS_FILE ("name token" lines, written by compat_load.py setup).
local groups = {}
local n = 0

function setup(thread)
	n = n + 1
	thread:set("tid", n)
end

function init(args)
	math.randomseed(tid * 7919 + os.time())
	for line in io.lines(os.getenv("GROUPS_FILE")) do
		local name, token = line:match("^(%S+) (%S+)$")
		if name then groups[#groups + 1] = { name, token } end
	end
end

function request()
	local g = groups[math.random(1, #groups)]
	return wrk.format("GET", "/api/group/" .. g[1] ..
		"/get-group-data?from_time=1970-01-01T00:00:00.000Z", { ["Authorization"] = g[2] })
end

function done(summary, latency, requests)
	io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.status, summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout))
end
