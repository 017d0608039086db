-- Rolls out again the revision that failed or was aborted, as `kubectl tranche retry` does.
-- requestToken comes from actions/token.lua, which runs before this script.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local annotations = obj.metadata.annotations
annotations["tranche.dev/retry"] = requestToken(annotations["tranche.dev/retry"])
return obj
