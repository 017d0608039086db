-- Puts the revision the primary ran before its current one back on all traffic at once, as
-- `kubectl tranche undo` does: for an incident after a promotion. requestToken comes from
-- actions/token.lua, which runs before this script.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local annotations = obj.metadata.annotations
annotations["tranche.dev/undo"] = requestToken(annotations["tranche.dev/undo"])
return obj
