/*
Copyright 2026 The csi-driver-spiffe operator authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package driver

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// issueError is a failure with the gRPC code NodePublishVolume answers and
// the reason counted in csi_driver_spiffe_failures_total.
type issueError struct {
	code   codes.Code
	reason string
	err    error
}

func (e *issueError) Error() string { return e.err.Error() }
func (e *issueError) Unwrap() error { return e.err }

func newIssueError(code codes.Code, reason string, err error) error {
	return &issueError{code: code, reason: reason, err: err}
}

// reasonOf returns the failure reason of err.
func reasonOf(err error) string {
	var ie *issueError
	if errors.As(err, &ie) {
		return ie.reason
	}
	return ReasonCreateFailed
}

// toStatus turns err into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var ie *issueError
	if errors.As(err, &ie) {
		return status.Error(ie.code, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
