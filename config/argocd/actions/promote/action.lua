-- Passes the manual gate the rollout waits at, as `kubectl tranche promote` does. The token
-- names the second of the press: the controller acts on each token once.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["tranche.dev/promote"] = "argocd-" .. os.time()
return obj
