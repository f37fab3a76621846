#include "quantizers/param_schema.h"

#include <cmath>
#include <sstream>

#include "common/error.h"

namespace qtune {

namespace {

const char* type_name(ParamSpec::Type t) {
  switch (t) {
    case ParamSpec::Type::kInt:
      return "an integer";
    case ParamSpec::Type::kFloat:
      return "a number";
    case ParamSpec::Type::kBool:
      return "true or false";
    case ParamSpec::Type::kString:
      return "a string";
  }
  return "?";
}

bool has_type(const Json& v, ParamSpec::Type t) {
  switch (t) {
    case ParamSpec::Type::kInt:
      return v.is_number_integer();
    case ParamSpec::Type::kFloat:
      return v.is_number();
    case ParamSpec::Type::kBool:
      return v.is_boolean();
    case ParamSpec::Type::kString:
      return v.is_string();
  }
  return false;
}

std::string field(const std::string& where, const std::string& name) {
  return where.empty() ? name : where + "." + name;
}

std::string format_number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

/// The checked value, normalized (floats stored as double), or qtune::Error.
Json check_value(const ParamSpec& spec, const Json& v, const std::string& where) {
  const std::string f = field(where, spec.name);
  QT_CHECK(has_type(v, spec.type), f, ": expected ", type_name(spec.type), ", got ", v.dump());
  if (spec.type == ParamSpec::Type::kInt || spec.type == ParamSpec::Type::kFloat) {
    const double x = v.get<double>();
    QT_CHECK(std::isfinite(x), f, ": expected a finite number, got ", v.dump());
    const bool low = spec.min && x < *spec.min, high = spec.max && x > *spec.max;
    if (low || high) {
      std::string range;
      if (spec.min && spec.max)
        range = "in [" + format_number(*spec.min) + ", " + format_number(*spec.max) + "]";
      else if (spec.min)
        range = ">= " + format_number(*spec.min);
      else
        range = "<= " + format_number(*spec.max);
      throw Error(f + ": expected " + type_name(spec.type) + " " + range + ", got " + v.dump());
    }
  }
  if (!spec.allowed.empty()) {
    bool ok = false;
    std::string options;
    for (const Json& a : spec.allowed) {
      ok = ok || a == v;
      options += (options.empty() ? "" : ", ") + (a.is_string() ? a.get<std::string>() : a.dump());
    }
    QT_CHECK(ok, f, ": expected one of ", options, ", got ", v.dump());
  }
  if (spec.check) {
    const std::string problem = spec.check(v);
    QT_CHECK(problem.empty(), f, ": ", problem, ", got ", v.dump());
  }
  if (spec.type == ParamSpec::Type::kFloat) return Json(v.get<double>());
  return v;
}

void check_object(const Json& params, const ParamSchema& schema, const std::string& where) {
  QT_CHECK(params.is_null() || params.is_object(), where.empty() ? "params" : where,
           ": expected an object of parameters, got ", params.dump());
  for (auto it = params.begin(); params.is_object() && it != params.end(); ++it) {
    if (schema.find(it.key())) continue;
    std::string known;
    for (const ParamSpec& p : schema.params) known += (known.empty() ? "" : ", ") + p.name;
    throw Error(field(where, it.key()) + ": unknown parameter (expected one of " + known + ")");
  }
}

}  // namespace

const ParamSpec* ParamSchema::find(const std::string& name) const {
  for (const ParamSpec& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

Json ParamSchema::validate(const Json& values, const std::string& where) const {
  check_object(values, *this, where);
  // Schema order, every key present: the canonical form that trial hashes see.
  Json out = Json::object();
  for (const ParamSpec& p : params) {
    const bool given = values.is_object() && values.contains(p.name);
    out[p.name] = check_value(p, given ? values.at(p.name) : p.default_value, where);
  }
  return out;
}

Json ParamSchema::validate_subset(const Json& values, const std::string& where) const {
  check_object(values, *this, where);
  Json out = Json::object();
  for (const ParamSpec& p : params)
    if (values.is_object() && values.contains(p.name))
      out[p.name] = check_value(p, values.at(p.name), where);
  return out;
}

}  // namespace qtune
