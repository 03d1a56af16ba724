package swarmprovider

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// LabelRelease holds the rollout in progress as JSON (proxy.Rollout), on the canary
// colour's service. The release tool writes it; the provider only reads it and hands it
// to the proxy to show. Fields the proxy does not know are ignored: the tool keeps its
// own state in the same label.
const LabelRelease = "archway.release"

// maxReleaseLabel bounds the label the provider parses: a rollout is a few hundred
// bytes, and Docker accepts labels far larger than the proxy should decode every resync.
const maxReleaseLabel = 64 << 10

// parseRollout reads one service's LabelRelease value at now. Every error is one line
// naming what is wrong, never the whole value (it may be 64 KiB of anything).
func parseRollout(value string, now time.Time) (*proxy.Rollout, error) {
	if len(value) > maxReleaseLabel {
		return nil, fmt.Errorf("%d bytes; at most %d", len(value), maxReleaseLabel)
	}
	v := bytes.TrimSpace([]byte(value))
	if len(v) == 0 || v[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var r proxy.Rollout
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if strings.TrimSpace(r.Release) == "" {
		return nil, errors.New(`no "release"`)
	}
	if err := r.Check(now); err != nil {
		return nil, err
	}
	return &r, nil
}

// rollout picks the rollout the group's services report: the one updated last when
// several carry the label (a new release's label on one colour, an old one left on the
// other), the first by service name on a tie. key identifies the label it came from
// (service and value digest), so the caller hands the proxy only changes. A label that
// does not parse is returned in bad — message by the same kind of key, so each is
// reported once — and is otherwise ignored.
func (c Config) rollout(cl cluster, now time.Time) (r *proxy.Rollout, key string, bad map[string]string) {
	var owner string
	for i := range cl.services {
		svc := &cl.services[i]
		value, ok := svc.Spec.Labels[LabelRelease]
		if !ok || !c.inGroup(svc.Spec.Labels) {
			continue
		}
		got, err := parseRollout(value, now)
		if err != nil {
			if bad == nil {
				bad = map[string]string{}
			}
			bad[labelKey(svc.Spec.Name, value)] = fmt.Sprintf("service %q: label %s: %v; ignored", svc.Spec.Name, LabelRelease, err)
			continue
		}
		if r == nil || got.Updated.After(r.Updated) || got.Updated.Equal(r.Updated) && svc.Spec.Name < owner {
			r, owner, key = got, svc.Spec.Name, labelKey(svc.Spec.Name, value)
		}
	}
	return r, key, bad
}

// labelKey identifies a service's label value without keeping up to 64 KiB of it.
func labelKey(service, value string) string {
	sum := sha256.Sum256([]byte(value))
	return service + " " + hex.EncodeToString(sum[:])
}
