-- paths.lua - a wrk script that sends, in turn and over and over, the
-- request paths listed one a line in the file named after `--`.
--
--     wrk -t1 -c1 -d5s -s bench/paths.lua http://HOST:PORT -- PATHS
--
-- run.sh gives it the pages pager.py followed through Link, so a walk of
-- a listing is timed by a client written in C rather than by Python.

local paths = {}
local next_path = 0

function init(args)
	local file = assert(io.open(args[1]), "no paths file")
	for line in file:lines() do
		if line ~= "" then
			paths[#paths + 1] = line
		end
	end
	file:close()
	assert(#paths > 0, "the paths file is empty")
end

function request()
	next_path = next_path % #paths + 1
	return wrk.format("GET", paths[next_path])
end
