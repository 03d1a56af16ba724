package server

import (
	"fmt"
	"strconv"
	"strings"
)

// ResolvePort applies the seeds' precedence for the listen port: the -port flag when
// given, else the PORT environment variable, else def. An empty PORT is unset (what
// a compose file's PORT=${PORT} gives when the shell has none); an empty -port, or a
// PORT of only white space, is a mistake. It returns ":<port>" or an error naming the
// setting and the bad value.
func ResolvePort(flagValue string, flagSet bool, envValue string, def int) (string, error) {
	setting, raw := "-port", flagValue
	if !flagSet {
		setting, raw = "PORT", envValue
	}
	if !flagSet && raw == "" {
		return ":" + strconv.Itoa(def), nil
	}
	trimmed := strings.TrimSpace(raw)
	if trimmed == "" {
		return "", fmt.Errorf("%s=%q: empty value; want a port number 1-65535", setting, raw)
	}
	n, err := strconv.Atoi(trimmed)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%s=%q: want a port number 1-65535", setting, trimmed)
	}
	return ":" + strconv.Itoa(n), nil
}
