// Command hello prints the platform it was built for, so a test that runs it learns which image it unpacked.
package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// armVariant returns "/v7" for a binary built with GOARM=7, read from the build settings that the Go
// toolchain embeds, and "" for a build without GOARM.
func armVariant() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, setting := range info.Settings {
		if setting.Key == "GOARM" && setting.Value != "" {
			return "/v" + setting.Value
		}
	}
	return ""
}

func main() {
	fmt.Printf("hello from plume on %s/%s%s\n", runtime.GOOS, runtime.GOARCH, armVariant())
}
