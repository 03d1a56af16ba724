package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// What a SIGHUP re-read of the configuration applies, and how the rest is named.

// reloadedSettings are the settings a SIGHUP applies (with the colours and weights
// themselves): the static provider's backend set, the log level and the access log's
// switch (not its format: LOG_FORMAT). Every other setting keeps its start value until
// a restart; RestartOnlyChanges names those that a re-read configuration changed, so
// that the change is never silently ignored.
var reloadedSettings = map[string]bool{"PROXY_TARGET_URL": true, "COLORS": true, "LOG_LEVEL": true, "ACCESS_LOG": true}

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
	// The providers' own settings, read once by their constructors at start.
	for k, v := range s.vars {
		if strings.HasPrefix(k, providerPrefix) {
			eff[k] = v
		}
	}
	return eff
}

// RestartOnlyChanges names the settings that next, this configuration read again (on
// SIGHUP), sets to another value although only a restart applies them: every setting
// but reloadedSettings, and the providers' ARCHWAY_* variables. Each entry is
// `NAME "old" -> "new"` (values cut at 64 bytes, (unset) for a variable not set), or
// NAME alone for a token; nil when nothing of the kind changed.
func (c *Config) RestartOnlyChanges(next *Config) []string {
	var providers []string // the ARCHWAY_* variables set in either, after the settings
	for _, eff := range []map[string]string{c.effective, next.effective} {
		for k := range eff {
			if strings.HasPrefix(k, providerPrefix) && !slices.Contains(providers, k) {
				providers = append(providers, k)
			}
		}
	}
	slices.Sort(providers)
	var changed []string
	for _, name := range slices.Concat(settings, providers) {
		old, wasSet := c.effective[name]
		now, isSet := next.effective[name]
		if reloadedSettings[name] || old == now && wasSet == isSet {
			continue
		}
		if secretSettings[name] {
			changed = append(changed, name)
			continue
		}
		changed = append(changed, fmt.Sprintf("%s %s -> %s", name, shown(old, wasSet), shown(now, isSet)))
	}
	return changed
}

// shown is a value for the warning: quoted and cut at 64 bytes ("…" marks the cut),
// or (unset).
func shown(v string, set bool) string {
	if !set {
		return "(unset)"
	}
	if len(v) > 64 {
		v = v[:64] + "…"
	}
	return strconv.Quote(v)
}
