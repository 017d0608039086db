-- requestToken is the value an action writes to a request annotation, given the one there
-- now. The controller acts on a token once, so each press must write a token that differs
-- from every earlier one, two presses in one second included: os.time counts seconds. The
-- token is argocd-<second>-<n> for the nth press in that second. Argo CD's Lua has no string
-- library, so n is found by comparing the token there now with that second's tokens in turn
-- (a promote's may carry the full: prefix of promote-full).
local function requestToken(previous)
  local second = "argocd-" .. require("os").time() .. "-"
  for n = 1, 1000 do
    local earlier = second .. n
    if previous == earlier or previous == "full:" .. earlier then
      return second .. (n + 1)
    end
  end
  return second .. 1
end
