// Request criteria (Pomerium `accept.go`, `reject.go`, `http_method.go`, `http_path.go`,
// `source_ip.go`, `cors_preflight.go`, `client_certificate.go`,
// `invalid_client_certificate.go`).

#include "policy/criteria/criteria.h"

namespace vallum::policy::criteria {
namespace {

Result pass(bool ok, Reason ok_reason, Reason fail_reason) {
  return Result{ok, ok ? ok_reason : fail_reason};
}

bool sourceIpMatches(const Criterion& c, const RequestView& request) {
  if (!request.ip_valid) {
    return false;
  }
  for (const IpRange& range : c.ip_ranges) {
    if (range.contains(request.ip)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool isRequestDependent(CriterionKind kind) {
  switch (kind) {
    case CriterionKind::HttpMethod:
    case CriterionKind::HttpPath:
    case CriterionKind::SourceIp:
    case CriterionKind::CorsPreflight:
    case CriterionKind::ClientCertificate:
    case CriterionKind::InvalidClientCertificate:
      return true;
    default:
      return false;
  }
}

Result evaluateRequest(const Criterion& c, const RequestView& request) {
  const RequestFacts& facts = request.facts;
  switch (c.kind) {
    case CriterionKind::Accept:
      return Result{true, Reason::Accept};
    case CriterionKind::Reject:
      return Result{false, Reason::Reject};
    case CriterionKind::HttpMethod:
      return pass(c.string_matcher.matches(facts.method), Reason::HttpMethodOk,
                  Reason::HttpMethodUnauthorized);
    case CriterionKind::HttpPath:
      return pass(c.string_matcher.matches(facts.path), Reason::HttpPathOk,
                  Reason::HttpPathUnauthorized);
    case CriterionKind::SourceIp:
      return pass(sourceIpMatches(c, request), Reason::SourceIpOk, Reason::SourceIpUnauthorized);
    case CriterionKind::CorsPreflight:
      return pass(facts.cors_preflight, Reason::CorsRequest, Reason::NonCorsRequest);
    case CriterionKind::ClientCertificate:
      // TODO(policy): match fingerprint / SPKI hash / SANs once Vallum terminates client
      // certificates. Until then no certificate is ever presented, and Pomerium's rule body
      // (parse the leaf certificate) fails: false with client-certificate-unauthorized.
      return Result{false, Reason::ClientCertificateUnauthorized};
    case CriterionKind::InvalidClientCertificate:
      switch (facts.client_certificate) {
        case ClientCertificateState::Missing:
          return Result{true, Reason::ClientCertificateRequired};
        case ClientCertificateState::Invalid:
          return Result{true, Reason::InvalidClientCertificate};
        case ClientCertificateState::NotRequired:
        case ClientCertificateState::Valid:
          break;
      }
      return Result{false, Reason::ValidClientCertificate};
    default:
      return Result{false, Reason::Reject};
  }
}

}  // namespace vallum::policy::criteria
