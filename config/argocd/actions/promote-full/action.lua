-- Skips the remaining steps and analysis and promotes at once, as `kubectl tranche promote
-- --full` does.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["tranche.dev/promote"] = "full:argocd-" .. os.time()
return obj
