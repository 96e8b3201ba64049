#include "policy/evaluator.h"

#include "policy/criteria/criteria.h"

namespace vallum::policy {
namespace {

struct Combined {
  bool value = false;
  ReasonSet reasons;
};

// Records trace lines when `sink` is set; evaluate() passes null and so never allocates.
class Evaluation {
 public:
  Evaluation(const Identity& who, const RequestFacts& facts, std::vector<TraceLine>* sink)
      : who_(who), request_{facts, false, IpAddress{}}, sink_(sink) {
    request_.ip_valid = IpAddress::parse(facts.client_ip, request_.ip);
  }

  Combined action(const Policy& policy, Action action) {
    size_t header = 0;
    if (sink_ != nullptr) {
      header = sink_->size();
      sink_->push_back(TraceLine{
          TraceLine::Kind::Action, 0, std::string(actionName(action)), "", {}, false, {}});
    }
    // merge_with_or over every block of every rule with this action.
    ReasonSet true_reasons, false_reasons;
    bool any_true = false;
    for (const Rule& rule : policy.rules) {
      if (rule.action != action) {
        continue;
      }
      for (const OperatorBlock& block : rule.blocks) {
        const Combined r = this->block(block);
        if (r.value) {
          any_true = true;
          true_reasons.merge(r.reasons);
        } else {
          false_reasons.merge(r.reasons);
        }
      }
    }
    const Combined result{any_true, any_true ? true_reasons : false_reasons};
    if (sink_ != nullptr) {
      (*sink_)[header].result = result.value;
      (*sink_)[header].reasons = result.reasons;
    }
    return result;
  }

 private:
  // Spec §8.2. Each criterion's result is optionally inverted (not, nor), then combined with
  // AND (and, not) or OR (or, nor); the reasons come from the results that decided the value
  // and keep the criterion's own reason.
  Combined block(const OperatorBlock& block) {
    size_t header = 0;
    if (sink_ != nullptr) {
      header = sink_->size();
      sink_->push_back(TraceLine{TraceLine::Kind::Block,
                                 1,
                                 std::string(operatorName(block.op)),
                                 block.key,
                                 block.pos,
                                 false,
                                 {}});
    }
    const bool invert = block.op == Operator::Not || block.op == Operator::Nor;
    const bool conjunction = block.op == Operator::And || block.op == Operator::Not;
    ReasonSet true_reasons, false_reasons;
    size_t true_count = 0;
    for (const Criterion& c : block.criteria) {
      const criteria::Result r = criteria::evaluateCriterion(c, who_, request_);
      if (sink_ != nullptr) {
        sink_->push_back(TraceLine{TraceLine::Kind::Criterion, 2, c.name, c.key, c.pos, r.value,
                                   ReasonSet(r.reason)});
      }
      if (r.value != invert) {
        ++true_count;
        true_reasons.add(r.reason);
      } else {
        false_reasons.add(r.reason);
      }
    }
    const bool value = conjunction ? true_count == block.criteria.size() : true_count > 0;
    const Combined result{value, value ? true_reasons : false_reasons};
    if (sink_ != nullptr) {
      (*sink_)[header].result = result.value;
      (*sink_)[header].reasons = result.reasons;
    }
    return result;
  }

  const Identity& who_;
  criteria::RequestView request_;
  std::vector<TraceLine>* sink_;
};

Decision run(const Policy& policy, const Identity& who, const RequestFacts& request,
             std::vector<TraceLine>* sink) {
  Evaluation evaluation(who, request, sink);
  const Combined allow = evaluation.action(policy, Action::Allow);
  const Combined deny = evaluation.action(policy, Action::Deny);
  Decision d;
  d.allow = allow.value;
  d.allow_reasons = allow.reasons;
  d.deny = deny.value;
  d.deny_reasons = deny.reasons;
  return d;
}

}  // namespace

Decision evaluate(const Policy& policy, const Identity& who, const RequestFacts& request) {
  return run(policy, who, request, nullptr);
}

std::vector<TraceLine> trace(const Policy& policy, const Identity& who,
                             const RequestFacts& request) {
  std::vector<TraceLine> lines;
  const Decision d = run(policy, who, request, &lines);
  lines.push_back(
      TraceLine{TraceLine::Kind::Decision, 0, "decision", "", {}, d.allowed(), d.reasons()});
  return lines;
}

std::string explain(const Policy& policy, const Identity& who, const RequestFacts& request) {
  const std::vector<TraceLine> lines = trace(policy, who, request);
  const bool sign_in = evaluate(policy, who, request).needsSignIn();
  std::string out;
  for (const TraceLine& line : lines) {
    out.append(static_cast<size_t>(line.depth) * 2, ' ');
    out += line.label;
    if (!line.key.empty()) {
      out += ' ';
      out += line.key;
    }
    out += ": ";
    if (line.kind == TraceLine::Kind::Decision) {
      out += sign_in ? "sign-in required" : line.result ? "allowed" : "denied";
    } else {
      out += line.result ? "true" : "false";
    }
    out += " [";
    out += line.reasons.toString(", ");
    out += "]\n";
  }
  return out;
}

}  // namespace vallum::policy
