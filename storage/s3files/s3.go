package s3files

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// Credentials is a static S3 access key.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is optional.
	SessionToken string
}

// defaultRegion is used when an s3:// URL names none and no environment
// supplies one; S3-compatible services generally ignore it.
const defaultRegion = "us-east-1"

// s3URL is what an s3:// URL says.
type s3URL struct {
	bucket, endpoint, region, profile string
	pathStyle, anonymous              bool
}

// parseS3URL reads s3://bucket?endpoint=...&region=...&use_path_style=true.
func parseS3URL(u *url.URL) (s3URL, error) {
	p := s3URL{bucket: u.Host}
	if u.Host == "" {
		return p, fmt.Errorf("s3files: s3 URL names no bucket (want s3://bucket?...)")
	}
	if u.Path != "" && u.Path != "/" {
		return p, fmt.Errorf("s3files: s3 URL must not have a path (a key prefix is not supported)")
	}
	for name, values := range u.Query() {
		v := values[len(values)-1]
		var err error
		switch name {
		case "endpoint":
			var eu *url.URL
			if eu, err = url.Parse(v); err == nil && (eu.Scheme != "http" && eu.Scheme != "https" || eu.Host == "") {
				err = fmt.Errorf("want an http or https URL")
			}
			p.endpoint = v
		case "region":
			p.region = v
		case "profile":
			p.profile = v
		case "use_path_style", "s3ForcePathStyle":
			p.pathStyle, err = strconv.ParseBool(v)
		case "anonymous":
			p.anonymous, err = strconv.ParseBool(v)
		default:
			return p, fmt.Errorf("s3files: unknown s3 URL parameter %q (known: endpoint, region, use_path_style, anonymous, profile)", name)
		}
		if err != nil {
			return p, fmt.Errorf("s3files: s3 URL parameter %s: %w", name, err)
		}
	}
	return p, nil
}

// awsConfig is hermetic with static credentials or anonymous access, and the
// SDK's default chain otherwise.
func awsConfig(ctx context.Context, p s3URL, opts *Options) (aws.Config, error) {
	var cfg aws.Config
	if opts.Credentials != nil || p.anonymous {
		// Hermetic: nothing is read from the environment or shared files.
		cfg = aws.Config{
			Region:  p.region,
			Retryer: func() aws.Retryer { return retry.NewStandard() },
		}
		if p.anonymous {
			cfg.Credentials = aws.AnonymousCredentials{}
		} else {
			c := opts.Credentials
			cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		}
	} else {
		var load []func(*config.LoadOptions) error
		if p.region != "" {
			load = append(load, config.WithRegion(p.region))
		}
		if p.profile != "" {
			load = append(load, config.WithSharedConfigProfile(p.profile))
		}
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, load...); err != nil {
			return cfg, fmt.Errorf("s3files: load AWS configuration: %w", err)
		}
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	// Only send request checksums when an operation requires them: the
	// streaming trailer checksums of newer SDKs are not understood by every
	// S3-compatible server.
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	if opts.HTTPClient != nil {
		cfg.HTTPClient = opts.HTTPClient
	}
	return cfg, nil
}

// openS3 opens the bucket an s3:// URL names.
func openS3(ctx context.Context, u *url.URL, opts *Options) (*blob.Bucket, error) {
	p, err := parseS3URL(u)
	if err != nil {
		return nil, err
	}
	cfg, err := awsConfig(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if p.endpoint != "" {
			o.BaseEndpoint = aws.String(p.endpoint)
		}
		o.UsePathStyle = p.pathStyle
	})
	b, err := s3blob.OpenBucket(ctx, client, p.bucket, &s3blob.Options{
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	if err != nil {
		return nil, fmt.Errorf("s3files: open s3 bucket %q: %w", p.bucket, err)
	}
	return b, nil
}
