package proxy

import (
	"fmt"
	"strconv"
	"strings"
)

// What a SIGHUP re-read of the configuration applies, and how the rest is named.

// reloadedSettings are the settings a SIGHUP applies (with the colours and weights
// themselves): the static provider's backend set and the log level. Every other
// setting keeps its start value until a restart; RestartOnlyChanges names those that
// a re-read configuration changed, so that the change is never silently ignored.
var reloadedSettings = map[string]bool{"PROXY_TARGET_URL": true, "COLORS": true, "LOG_LEVEL": true}

// secretSettings are never repeated with their values, not even in a warning.
var secretSettings = map[string]bool{
	"ADMIN_TOKEN": true, "ADMIN_TOKEN_FILE": true, "ADMIN_READ_TOKEN": true, "ADMIN_READ_TOKEN_FILE": true,
}

// flagName is a setting's flag: its env name lower-case with '-' for '_'
// (PROXY_TARGET_URL keeps go-proxy-multiarch's -proxy_target_url).
func flagName(env string) string {
	if env == "PROXY_TARGET_URL" {
		return "proxy_target_url"
	}
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// effectiveSettings is the value of every setting as parsed: the flag if given, else
// the variable, else the default. A token file stands for its path and the token read
// from it, so that a rotated token with the same path counts as a change.
func effectiveSettings(s *rawSettings, c *Config) map[string]string {
	eff := make(map[string]string, len(settings))
	for _, env := range settings {
		f := flagName(env)
		if _, ok := s.bools[f]; ok {
			b, _ := s.boolean(f, env) // parsed without error before
			eff[env] = strconv.FormatBool(b)
			continue
		}
		eff[env], _, _ = s.lookup(f, env)
	}
	for file, tok := range map[string]string{"ADMIN_TOKEN_FILE": c.AdminAuth.Token, "ADMIN_READ_TOKEN_FILE": c.AdminAuth.ReadToken} {
		if eff[file] != "" {
			eff[file] += "\x00" + tok
		}
	}
	return eff
}

// RestartOnlyChanges names the settings that next, this configuration read again (on
// SIGHUP), sets to another value although only a restart applies them: every setting
// but reloadedSettings. Each entry is `NAME "old" -> "new"` (values cut at 64 bytes),
// or NAME alone for a token; nil when nothing of the kind changed.
func (c *Config) RestartOnlyChanges(next *Config) []string {
	var changed []string
	for _, name := range settings {
		old, now := c.effective[name], next.effective[name]
		if reloadedSettings[name] || old == now {
			continue
		}
		if secretSettings[name] {
			changed = append(changed, name)
			continue
		}
		changed = append(changed, fmt.Sprintf("%s %q -> %q", name, cut(old, 64), cut(now, 64)))
	}
	return changed
}

// cut is s at most n bytes long, "…" marking a cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
