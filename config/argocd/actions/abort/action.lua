-- Rolls the canary back, as `kubectl tranche abort` does; the revision is not tried again
-- until the target changes or a retry. requestToken comes from actions/token.lua, which runs
-- before this script.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local annotations = obj.metadata.annotations
annotations["tranche.dev/abort"] = requestToken(annotations["tranche.dev/abort"])
return obj
