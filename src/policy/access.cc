#include "policy/access.h"

#include <vector>

#include "policy/criteria/criteria.h"

namespace vallum::policy {
namespace {

enum class Tri : uint8_t { False, True, Unknown };

Tri invert(Tri v) {
  switch (v) {
    case Tri::False:
      return Tri::True;
    case Tri::True:
      return Tri::False;
    case Tri::Unknown:
      break;
  }
  return Tri::Unknown;
}

class AccessEvaluation {
 public:
  explicit AccessEvaluation(const Identity& who) : who_(who) {}

  // Kleene OR over every block of every rule with this action; no block → false.
  Tri action(const Policy& policy, Action action) {
    Tri result = Tri::False;
    for (const Rule& rule : policy.rules) {
      if (rule.action != action) {
        continue;
      }
      for (const OperatorBlock& block : rule.blocks) {
        const Tri v = this->block(block);
        if (v == Tri::True) {
          result = Tri::True;
        } else if (v == Tri::Unknown && result == Tri::False) {
          result = Tri::Unknown;
        }
      }
    }
    return result;
  }

  const std::vector<std::string_view>& unknowns() const { return unknowns_; }

 private:
  Tri criterion(const Criterion& c) {
    if (criteria::isRequestDependent(c.kind)) {
      const std::string_view name = criterionName(c.kind);
      bool seen = false;
      for (std::string_view u : unknowns_) {
        seen = seen || u == name;
      }
      if (!seen) {
        unknowns_.push_back(name);
      }
      return Tri::Unknown;
    }
    // Only accept/reject and session criteria are left: none reads the request.
    static const RequestFacts kNoRequest;
    const criteria::RequestView request{kNoRequest, false, IpAddress{}};
    return criteria::evaluateCriterion(c, who_, request).value ? Tri::True : Tri::False;
  }

  // Spec §8.2 in three-valued logic: and/not are conjunctions, or/nor disjunctions, of the
  // (inverted, for not/nor) criterion results.
  Tri block(const OperatorBlock& block) {
    const bool invert_each = block.op == Operator::Not || block.op == Operator::Nor;
    const bool conjunction = block.op == Operator::And || block.op == Operator::Not;
    Tri result = conjunction ? Tri::True : Tri::False;
    for (const Criterion& c : block.criteria) {
      Tri v = criterion(c);
      if (invert_each) {
        v = invert(v);
      }
      if (conjunction) {
        if (v == Tri::False) {
          result = Tri::False;
        } else if (v == Tri::Unknown && result == Tri::True) {
          result = Tri::Unknown;
        }
      } else {
        if (v == Tri::True) {
          result = Tri::True;
        } else if (v == Tri::Unknown && result == Tri::False) {
          result = Tri::Unknown;
        }
      }
    }
    return result;
  }

  const Identity& who_;
  std::vector<std::string_view> unknowns_;
};

}  // namespace

Outcome decideForUser(const Policy& policy, const Identity& who, std::string* depends_on) {
  AccessEvaluation evaluation(who);
  const Tri allow = evaluation.action(policy, Action::Allow);
  const Tri deny = evaluation.action(policy, Action::Deny);
  if (depends_on != nullptr) {
    depends_on->clear();
  }
  // allowed = !deny && allow
  if (deny == Tri::True || allow == Tri::False) {
    return Outcome::Deny;
  }
  if (deny == Tri::False && allow == Tri::True) {
    return Outcome::Allow;
  }
  if (depends_on != nullptr) {
    for (std::string_view name : evaluation.unknowns()) {
      if (!depends_on->empty()) {
        depends_on->append(", ");
      }
      depends_on->append(name);
    }
  }
  return Outcome::Depends;
}

}  // namespace vallum::policy
