-- Passes the manual gate the rollout waits at, as `kubectl tranche promote` does.
-- requestToken comes from actions/token.lua, which runs before this script.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local annotations = obj.metadata.annotations
annotations["tranche.dev/promote"] = requestToken(annotations["tranche.dev/promote"])
return obj
