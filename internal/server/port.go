package server

import (
	"fmt"
	"strconv"
	"strings"
)

// ResolvePort applies the seeds' precedence for the listen port: the -port flag when
// given, else the PORT environment variable, else def. It returns ":<port>" or an
// error naming the setting and the bad value.
func ResolvePort(flagValue string, flagSet bool, envValue string, def int) (string, error) {
	setting, raw := "-port", flagValue
	if !flagSet {
		setting, raw = "PORT", envValue
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		if flagSet {
			return "", fmt.Errorf("%s: empty value; want a port number 1-65535", setting)
		}
		return ":" + strconv.Itoa(def), nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%s=%q: want a port number 1-65535", setting, raw)
	}
	return ":" + strconv.Itoa(n), nil
}
