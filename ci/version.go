package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// BuildInfo is the identity stamped into binaries and images.
type BuildInfo struct {
	Version string    // image tag and internal/version.Version
	Commit  string    // full commit hash
	Created time.Time // commit time: SOURCE_DATE_EPOCH, the created label and config
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildInfo derives version, commit and commit time from git. Without git history
// (a source tarball) it needs -tag and uses the epoch, so builds stay reproducible.
func buildInfo(ctx context.Context, dir, tag string) (BuildInfo, error) {
	bi := BuildInfo{Version: tag, Commit: "unknown", Created: time.Unix(0, 0).UTC()}
	commit, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		if tag == "" {
			return bi, fmt.Errorf("no git history in %s (%w): pass -tag", dir, err)
		}
		return bi, nil
	}
	bi.Commit = commit
	ct, err := git(ctx, dir, "log", "-1", "--format=%ct")
	if err != nil {
		return bi, err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return bi, fmt.Errorf("commit time %q: %w", ct, err)
	}
	bi.Created = time.Unix(sec, 0).UTC()
	if bi.Version == "" {
		if bi.Version, err = git(ctx, dir, "describe", "--tags", "--always", "--dirty"); err != nil {
			return bi, err
		}
	}
	return bi, nil
}
