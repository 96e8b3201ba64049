#include "policy/ast.h"

namespace vallum::policy {

std::string_view actionName(Action action) { return action == Action::Allow ? "allow" : "deny"; }

std::string_view operatorName(Operator op) {
  switch (op) {
    case Operator::And:
      return "and";
    case Operator::Or:
      return "or";
    case Operator::Not:
      return "not";
    case Operator::Nor:
      return "nor";
  }
  return "?";
}

std::string_view criterionName(CriterionKind kind) {
  switch (kind) {
    case CriterionKind::Accept:
      return "accept";
    case CriterionKind::Reject:
      return "reject";
    case CriterionKind::AuthenticatedUser:
      return "authenticated_user";
    case CriterionKind::User:
      return "user";
    case CriterionKind::Email:
      return "email";
    case CriterionKind::Domain:
      return "domain";
    case CriterionKind::Groups:
      return "groups";
    case CriterionKind::Claim:
      return "claim";
    case CriterionKind::HttpMethod:
      return "http_method";
    case CriterionKind::HttpPath:
      return "http_path";
    case CriterionKind::SourceIp:
      return "source_ip";
    case CriterionKind::CorsPreflight:
      return "cors_preflight";
    case CriterionKind::ClientCertificate:
      return "client_certificate";
    case CriterionKind::InvalidClientCertificate:
      return "invalid_client_certificate";
  }
  return "?";
}

bool isSessionCriterion(CriterionKind kind) {
  switch (kind) {
    case CriterionKind::AuthenticatedUser:
    case CriterionKind::User:
    case CriterionKind::Email:
    case CriterionKind::Domain:
    case CriterionKind::Groups:
    case CriterionKind::Claim:
      return true;
    default:
      return false;
  }
}

}  // namespace vallum::policy
