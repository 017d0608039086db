package argocd

import (
	"context"
	"fmt"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Argo CD runs a customization in a fresh Lua state with only the package, base and table
// libraries, and a safe part of os (time and date) that a script gets through
// require("os"): there is no global os and no string library. The live object is the
// global obj, and the script has at most a second. run does the same, so that a script
// that passes here runs there.
func run(script string, obj map[string]any) (any, error) {
	return runAt(script, obj, time.Now)
}

// runAt is run with os.time reading the clock now, for tests that press twice in one second.
func runAt(script string, obj map[string]any, now func() time.Time) (any, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	safe, err := safeOs(l, now)
	if err != nil {
		return nil, err
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int { l.Push(safe); return 1 })

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	return fromLua(l.Get(-1)), nil
}

// safeOs is the os library as Argo CD gives it to scripts: time and date only, time without
// arguments reading now.
func safeOs(l *lua.LState, now func() time.Time) (*lua.LTable, error) {
	date, dateOf, err := osFunctions()
	if err != nil {
		return nil, err
	}
	safe := l.NewTable()
	safe.RawSetString("date", l.NewFunction(date))
	safe.RawSetString("time", l.NewFunction(func(l *lua.LState) int {
		if l.GetTop() > 0 { // a date to convert
			return dateOf(l)
		}
		l.Push(lua.LNumber(now().Unix()))
		return 1
	}))
	return safe, nil
}

// osFunctions are gopher-lua's os.date and os.time, taken from a state of their own: opening
// the os library in the script's state would leave all of it (execute, exit, remove...) for
// require to find.
func osFunctions() (date, time lua.LGFunction, err error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	if err := l.CallByParam(lua.P{Fn: l.NewFunction(lua.OpenOs), NRet: 1, Protect: true}, lua.LString(lua.OsLibName)); err != nil {
		return nil, nil, err
	}
	full, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return nil, nil, fmt.Errorf("the os library is not a table")
	}
	d, okDate := full.RawGetString("date").(*lua.LFunction)
	t, okTime := full.RawGetString("time").(*lua.LFunction)
	if !okDate || !okTime || d.GFunction == nil || t.GFunction == nil {
		return nil, nil, fmt.Errorf("the os library has no date or time function")
	}
	return d.GFunction, t.GFunction, nil
}

// toLua turns a JSON value (as in an unstructured object) into Lua's.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	}
	return lua.LNil
}

// fromLua turns a Lua value back into JSON's as Argo CD's encoder does: a table with
// elements 1..n is an array, any other table (an empty one too) an object. Whole numbers
// come back as int64, as in an unstructured object.
func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				out = append(out, fromLua(v.RawGetInt(i)))
			}
			return out
		}
		out := map[string]any{}
		v.ForEach(func(k, item lua.LValue) { out[k.String()] = fromLua(item) })
		return out
	case lua.LString:
		return string(v)
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return float64(v)
	}
	return nil
}
