-- Skips the remaining steps and analysis and promotes at once, as `kubectl tranche promote
-- --full` does. requestToken comes from actions/token.lua, which runs before this script.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local annotations = obj.metadata.annotations
annotations["tranche.dev/promote"] = "full:" .. requestToken(annotations["tranche.dev/promote"])
return obj
